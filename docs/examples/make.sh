#!/bin/sh
# Makes the example reports the README links to, each with the command a user would type:
#   sh docs/examples/make.sh        (from the repository's root, with ci-conformance installed)
# Every target is a local emulator with one fault switch on, so each report has a finding.
set -u
out=$(pwd)/docs/examples
work=$(mktemp -d)
cd "$work"  # the reports name their files relative to it
trap 'kill $A $B 2>/dev/null; rm -rf "$work"' EXIT
CHECKS=pagination.walk_independent_of_size,pagination.no_duplicates,ordering.asc_reverses_desc,filters.type_union,filters.oracle,pagination.size_over_100

# a failing run: a page boundary skipped (root cause) and what it breaks downstream
ci-conformance run --examples-profile dev --emulator-jobs 120 --emulator-fault page-skip-boundary \
  --checks "$CHECKS" --report-dir "failing"
cp "failing/conformance.html" "$out/../example-report.html"

# compare: a release that fixes nothing and changes one open-point choice
ci-conformance run --examples-profile dev --emulator-jobs 120 --checks "$CHECKS" --report-dir "old"
ci-conformance run --examples-profile dev --emulator-jobs 120 --emulator-fault page-skip-boundary \
  --emulator-behaviour size_over_100=refuse --checks "$CHECKS" --report-dir "new"
ci-conformance compare "old/summary.json" "new/summary.json" --report-dir "compare"
cp "compare/compare.html" "$out/compare.html"

# diff: two served emulators with the same data, B ignoring the type filter
ci-conformance serve --port 9301 --jobs 30 --seed 3 >/dev/null 2>&1 & A=$!
ci-conformance serve --port 9302 --jobs 30 --seed 3 --fault filter-type-ignored >/dev/null 2>&1 & B=$!
sleep 3
# the keys every local emulator accepts, as `serve` prints them (no secret of anyone's)
export COS_SECRET_ID=AKIDQjz3ltompVjBni5LitkWHFlFpwkn9U5q COS_SECRET_KEY=BQYIM75p8x0iWVFSIgqEKwFprpRSVHlz
ci-conformance diff --target http://127.0.0.1:9301 --target-b http://127.0.0.1:9302 \
  --max-examples 20 --report-dir "diff"
cp "diff/diff.html" "$out/diff.html"

# sdk: the reference driver with one fault (it keeps only the first page's JobsDetail)
ci-conformance sdk --driver "python -m conformance.drivers.reference --fault first-jobsdetail-only" \
  --tasks baseline/walk-all,baseline/get,auth-401-ci/wrong-key --report-dir "sdk"
cp "sdk/sdk.html" "$out/sdk.html"
ls -l "$out/../example-report.html" "$out"
