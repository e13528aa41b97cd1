#!/usr/bin/env bash
# Builds the test tools npm lacks (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kwok,
# etcd, helm, k6, kube-score) into .tools/bin from their Go modules (through the Go module proxy), so nothing
# downloads a prebuilt binary. Each tool is rebuilt only when its pinned version changes: .tools/bin/<tool>.version
# records what was built.
set -euo pipefail

KUBE_VERSION=v1.33.13
HELM_VERSION=v3.18.6
K6_VERSION=v1.8.1
KWOK_VERSION=v0.7.0
KUBE_SCORE_VERSION=v1.20.0
ETCD_DEBIAN=etcd-server

root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.tools/bin"
work="$root/.tools/src"
mkdir -p "$bin" "$work"
export PATH="/usr/local/go/bin:$PATH" GOFLAGS=-mod=mod CGO_ENABLED=0

# Built binaries are also kept per version in a cache outside the checkout, so a fresh clone (CI) on a
# machine that built them once copies them instead of relinking.
cache="${STAMPEDE_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/stampede-tools}"
mkdir -p "$cache"

fresh() {
  [ -x "$bin/$1" ] && [ "$(cat "$bin/$1.version" 2>/dev/null)" = "$2" ] && return 0
  if [ -x "$cache/$1-$2" ]; then
    cp "$cache/$1-$2" "$bin/$1" && echo "$2" >"$bin/$1.version" && echo "tools: $1 $2 from cache"
    return 0
  fi
  return 1
}
stamp() {
  echo "$2" >"$bin/$1.version"
  cp "$bin/$1" "$cache/$1-$2.tmp" && mv "$cache/$1-$2.tmp" "$cache/$1-$2"
  echo "tools: built $1 $2"
}

build_kube() { # component: kube-apiserver, kube-controller-manager, kube-scheduler or kubectl
  local name="$1"
  fresh "$name" "$KUBE_VERSION" && return 0
  local dir="$work/$name" minor="${KUBE_VERSION#v1.}"
  rm -rf "$dir" && mkdir -p "$dir"
  # The kubernetes module replaces every staging k8s.io/* module with a relative path; a consumer must
  # replace each with the matching published v0.x tag. Read the list from kubernetes' own go.mod.
  local gomod
  gomod=$(cd "$dir" && go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
  {
    echo "module stampede.dev/tools/$name"
    echo "go 1.24"
    echo "require k8s.io/kubernetes $KUBE_VERSION"
    grep -oE '^\s*k8s\.io/[a-z0-9-]+ => \./staging/src/k8s\.io/[a-z0-9-]+' "$gomod" |
      awk -v v="v0.$minor" '{print "replace " $1 " => " $1 " " v}'
  } >"$dir/go.mod"
  # tools.go names the command's library so `go mod tidy` records every module it needs. kubectl's library
  # is the k8s.io/kubectl module, so its main is cmd/kubectl/kubectl.go's few lines, built from the wrapper.
  local target="k8s.io/kubernetes/cmd/$name"
  if [ "$name" = kubectl ]; then
    target=.
    printf '%s\n' 'package main' '' 'import (' '	"k8s.io/component-base/cli"' '	"k8s.io/kubectl/pkg/cmd"' \
      '	"k8s.io/kubectl/pkg/cmd/util"' ')' '' 'func main() {' '	command := cmd.NewDefaultKubectlCommand()' \
      '	if err := cli.RunNoErrOutput(command); err != nil {' '		util.CheckErr(err)' '	}' '}' >"$dir/main.go"
  else
    printf 'package main\n\nimport _ "%s/app"\n\nfunc main() {}\n' "$target" >"$dir/tools.go"
  fi
  local pkg=k8s.io/component-base/version
  local ld="-s -w -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=${minor%%.*}"
  ld="$ld -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  ld="$ld -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION"
  (cd "$dir" && go mod tidy >/dev/null 2>&1 || true; go build -trimpath -ldflags "$ld" -o "$bin/$name" "$target")
  stamp "$name" "$KUBE_VERSION"
}

build_go_install() { # name version package
  fresh "$1" "$2" && return 0
  GOBIN="$bin" go install -trimpath -ldflags "-s -w" "$3@$2"
  stamp "$1" "$2"
}

ensure_etcd() {
  # Debian's etcd-server 3.4 serves kube-apiserver up to 1.34; it is a registry package, not a download.
  if ! command -v etcd >/dev/null 2>&1 && [ ! -x /usr/bin/etcd ]; then
    (apt-get install -y -q "$ETCD_DEBIAN" >/dev/null 2>&1) || (apt-get update -q >/dev/null && apt-get install -y -q "$ETCD_DEBIAN" >/dev/null)
    # The package starts a system etcd on 2379; tests run their own on free ports.
    (systemctl stop etcd 2>/dev/null || pkill -x etcd || true)
  fi
  ln -sf "$(command -v etcd || echo /usr/bin/etcd)" "$bin/etcd"
}

# kwok plays the kubelet for simulated nodes in the rehearsal cluster (npm run cluster): no container runs.
# kube-score judges the chart's rendered defaults (test/chart/kube-score.test.ts).
want="${*:-etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kwok helm k6 kube-score}"
for t in $want; do
  case "$t" in
    etcd) ensure_etcd ;;
    kube-apiserver | kube-controller-manager | kube-scheduler | kubectl | kubelet) build_kube "$t" ;;
    kwok) build_go_install kwok "$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok ;;
    helm) build_go_install helm "$HELM_VERSION" helm.sh/helm/v3/cmd/helm ;;
    k6) build_go_install k6 "$K6_VERSION" go.k6.io/k6 ;;
    kube-score) build_go_install kube-score "$KUBE_SCORE_VERSION" github.com/zegl/kube-score/cmd/kube-score ;;
    *) echo "tools: unknown tool $t" >&2; exit 2 ;;
  esac
done

# The CapacityBuffer CRD (autoscaling.x-k8s.io, docs/capacity-buffer.md) for the operator's tests: one file of
# Karpenter's Go module, read from the module proxy's zip of the pinned version (`go mod download` refuses
# v1.15.0 for its go line on older Go), kept in the cache like the binaries and in .tools/crds. Not committed:
# it is Karpenter's text.
KARPENTER_VERSION=v1.15.0
BUFFER_CRD=autoscaling.x-k8s.io_capacitybuffers.yaml
fetch_buffer_crd() {
  local dir="$root/.tools/crds" cached="$cache/crds/karpenter-$KARPENTER_VERSION/$BUFFER_CRD"
  mkdir -p "$dir" "${cached%/*}"
  [ -s "$dir/$BUFFER_CRD" ] && [ "$(cat "$dir/$BUFFER_CRD.version" 2>/dev/null)" = "$KARPENTER_VERSION" ] && return 0
  if [ ! -s "$cached" ]; then
    local zip="$cache/karpenter-$KARPENTER_VERSION.zip"
    curl -fsSL -o "$zip.tmp" "https://proxy.golang.org/sigs.k8s.io/karpenter/@v/$KARPENTER_VERSION.zip"
    unzip -p "$zip.tmp" "sigs.k8s.io/karpenter@$KARPENTER_VERSION/pkg/apis/crds/$BUFFER_CRD" >"$cached.tmp"
    rm -f "$zip.tmp" && mv "$cached.tmp" "$cached"
  fi
  cp "$cached" "$dir/$BUFFER_CRD" && echo "$KARPENTER_VERSION" >"$dir/$BUFFER_CRD.version"
  echo "tools: CapacityBuffer CRD $KARPENTER_VERSION"
}
fetch_buffer_crd
