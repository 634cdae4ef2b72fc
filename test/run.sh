#!/usr/bin/env bash
# The test command (README: `npm test`). Installs the real parts when it can,
# builds the binary the e2e tests drive, runs every test with bun:test and writes
# JUnit results to test-results/junit.xml (read by .ci/run).
set -uo pipefail
cd "$(dirname "$0")/.."
bash test/bed/setup.sh
bash test/bed/cleanup.sh
# The host matrix's trees (test/hosts) build in the background (minutes, mostly download and dpkg)
# while the binary builds and the unit tests run; the matrix tests wait for them (a lock per tree).
mkdir -p test-results
npx bun test/hosts/prebuild.ts >test-results/hosts-prebuild.log 2>&1 &
npm run --silent build || exit 2
# --timeout: end-to-end tests start real daemons; on a timeout bun also kills the processes a
# test spawned (the test bed's daemons). The preload's setDefaultTimeout covers only the first file.
npx bun test --timeout 180000 --reporter=junit --reporter-outfile=test-results/junit.xml "$@"
status=$?
bash test/bed/cleanup.sh
exit $status
