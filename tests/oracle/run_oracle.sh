#!/usr/bin/env bash
# The engine-vs-PyTorch oracle: dumps what the engine computes for every op sample, then replays
# the dump in PyTorch with pytest. Usage:
#   run_oracle.sh DUMPER OUT.jsonl TEST_FILE [pytest args...]
# PYTHON (default /usr/bin/python3, Debian's python with python3-torch) runs pytest.
set -euo pipefail

if [ $# -lt 3 ]; then
  echo "usage: $0 DUMPER OUT.jsonl TEST_FILE [pytest args...]" >&2
  exit 2
fi
dumper=$1
dump=$2
test_file=$3
shift 3
python=${PYTHON:-/usr/bin/python3}

if ! "$python" -c 'import torch, pytest' 2>/dev/null; then
  echo "run_oracle: $python cannot import torch and pytest; the oracle needs PyTorch 1.13." >&2
  echo "run_oracle: install them with scripts/install-deps.sh (python3-torch, python3-pytest)." >&2
  exit 1
fi

"$dumper" "$dump"
# No __pycache__ or .pytest_cache in the source tree.
export PYTHONDONTWRITEBYTECODE=1 TENSORD_ORACLE_DUMP="$dump"
exec "$python" -m pytest -q --tb=short -p no:cacheprovider "$test_file" "$@"
