// Package proctest holds chronik's process-level tests: real `chronik`
// processes (built once by TestMain, or CHRONIK_BIN) on 127.0.0.1 ports with
// temporary data directories, driven with franz-go clients and the chronik
// CLI, killed with SIGKILL or stopped with SIGTERM. It has no non-test code.
//
// Environment: CHRONIK_BIN uses a prebuilt binary instead of building one;
// CHRONIK_PROCTEST_TOPICS sets the topic count of TestManyTopicsRestart
// (default 50, 100 with CHRONIK_FAULTS=full, 20 with -short); CHRONIK_PROCTEST_KGO_LOG=1 sends the test
// producers' franz-go logs to stderr; CHRONIK_FAULTS=full (make test-faults)
// runs the fault suite at full length (CHRONIK_FAULTS_DURATION,
// CHRONIK_FAULTS_RUNS, CHRONIK_FAULTS_REPORT, and CHRONIK_FAULTS_KGO_LOG=FILE for
// the verify load's franz-go debug log; see faults_test.go), the
// failover variants make test leaves out and TestGrowShrinkUnderLoad (which
// CHRONIK_TEST_ALL=1 also runs).
package proctest
