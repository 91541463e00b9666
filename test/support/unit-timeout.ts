// `testTimeout` is a global jest option that a project entry ignores (jest-circus reads only the
// global config), so each project sets its own here. Load must not decide a unit test: jest's 5 s
// default failed 5 tests of one suite in a run beside nine booting VMs (load average 12-18).
jest.setTimeout(60_000);
