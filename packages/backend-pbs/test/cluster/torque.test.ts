/** The PBS scenarios over real SSH, with the simulator speaking Torque. */
import { pbsScenarios } from './scenarios.js';

pbsScenarios('torque');
