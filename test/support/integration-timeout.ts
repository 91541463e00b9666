// `testTimeout` is a global jest option that a project entry ignores, so the integration project
// sets it here: bringing nodes up and forming swarms takes tens of seconds on 2 busy cores.
jest.setTimeout(300_000);
