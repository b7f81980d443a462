/** The PBS scenarios over real SSH, with the simulator speaking PBS Pro. */
import { pbsScenarios } from './scenarios.js';

pbsScenarios('pro');
