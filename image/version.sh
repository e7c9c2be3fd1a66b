#!/bin/sh
# version.sh prints the version of everything built from the repository's current commit: the one
# place it is computed (the Makefile's VERSION, image/build.sh; see package provisioning/version).
#
#   1.2.3, 1.2.3-4-gabcdef0[-dirty]   git describe --tags --match 'v*', without the "v", when a v* tag
#                                     is reachable (four commits after v1.2.3)
#   0.0.N-gabcdef0[-dirty]            otherwise: N commits on this branch (rises along main; CI clones
#                                     may carry no tags)
#
# It starts with a digit, as Debian versions must, and orders as version.Compare says. The first v* tag
# must be above every 0.0.N already deployed (v0.1.0 or v1.0.0, never v0.0.1), or kiosks would refuse
# its bundles as older. A shallow clone cannot count its commits: it gives 0.0.0-gabcdef0, which orders
# before every real build (fetch the whole history, or tag). Prints "dev" outside a git work tree.
set -eu
cd "$(dirname "$0")/.."
if ! git rev-parse --verify -q HEAD >/dev/null 2>&1; then
	echo dev
	exit 0
fi
if v=$(git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null); then
	echo "${v#v}"
	exit 0
fi
n=$(git rev-list --count HEAD)
if [ "$(git rev-parse --is-shallow-repository)" = true ]; then
	echo "version.sh: shallow clone, the commit count is unknown: version 0.0.0 (fetch the whole history)" >&2
	n=0
fi
sha=$(git rev-parse --short=7 HEAD)
dirty=
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
	dirty=-dirty
fi
echo "0.0.$n-g$sha$dirty"
