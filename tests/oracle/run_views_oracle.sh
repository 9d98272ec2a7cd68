#!/usr/bin/env bash
# Views and in-place ops against PyTorch 1.13 (tests/oracle/views_vs_torch.py). Usage:
#   run_views_oracle.sh ENGINE_VIEW_PROGRAMS WORKDIR [views_vs_torch.py args...]
# PYTHON (default /usr/bin/python3, Debian's python with python3-torch) runs the comparison.
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 ENGINE_VIEW_PROGRAMS WORKDIR [args...]" >&2
  exit 2
fi
engine=$1
workdir=$2
shift 2
python=${PYTHON:-/usr/bin/python3}

if ! "$python" -c 'import torch' 2>/dev/null; then
  echo "run_views_oracle: $python cannot import torch; the oracle needs PyTorch 1.13." >&2
  exit 1
fi
export PYTHONDONTWRITEBYTECODE=1
exec "$python" "$(dirname "$0")/views_vs_torch.py" --engine "$engine" --workdir "$workdir" "$@"
