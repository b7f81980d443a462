/** Test helper: a complete SubmitRequest with overridable task fields (shared by Slurm and PBS). */
export { makeRequest, makeTask } from '@scripthut/core/testing';
