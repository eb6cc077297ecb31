#!/usr/bin/env bash
# The real-control-plane test bed: etcd, kube-apiserver, kube-controller-manager and
# kube-scheduler built from their Go modules, KWOK playing the kubelets of four kind-like
# nodes, and testbed-node answering HTTP on pod IPs. See docs/testbed.md.
#
#   testbed.sh build           build what is missing (cached by version), print where it is
#   testbed.sh up DIR          start it all with state and logs in DIR (isolated namespace only)
#   testbed.sh down DIR        stop what `up DIR` started
#   testbed.sh exec CMD...     run CMD in a new network namespace with only `lo` up
#   testbed.sh shell [DIR]     exec + up + an interactive shell pointed at it + down
#
# Network rule: the test bed never runs outside a network namespace of its own whose only
# interface is `lo`, so nothing it does (the API server's pod and service proxy included)
# can reach another machine. `up` refuses to start anywhere else.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
export GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0

CACHE="${KUBETUTOR_TESTBED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubetutor/testbed}"
# Pod addresses (KWOK hands them out per node), node addresses (kind's), Service addresses.
POD_CIDR=10.244.0.0/16
NODE_IPS=(172.18.0.2 172.18.0.3 172.18.0.4 172.18.0.5)
SERVICE_CIDR=10.96.0.0/16

die() { echo "testbed: $*" >&2; exit 1; }
say() { echo "testbed: $*" >&2; }

module_version() { # FILE MODULE -> version required by the go.mod
    awk -v m="$2" '$1 == m && $2 ~ /^v/ { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "$1"
}

hash_of() { # FILES... -> short content hash
    cat "$@" | sha256sum | cut -c1-12
}

K8S_VERSION="$(module_version "$HERE/k8s/go.mod" k8s.io/kubernetes)"
ETCD_VERSION="$(module_version "$HERE/etcd/go.mod" go.etcd.io/etcd/server/v3)"
KWOK_VERSION="$(module_version "$HERE/node/go.mod" sigs.k8s.io/kwok)"
K8S_DIR="$CACHE/kubernetes-$K8S_VERSION-$(hash_of "$HERE/k8s/go.mod" "$HERE/k8s/go.sum")"
ETCD_DIR="$CACHE/etcd-$ETCD_VERSION-$(hash_of "$HERE/etcd/go.mod" "$HERE/etcd/go.sum")"
NODE_DIR="$CACHE/kwok-$KWOK_VERSION-$(hash_of "$HERE/node/go.mod" "$HERE/node/go.sum" "$HERE"/node/*.go)"

binaries() {
    echo "$K8S_DIR/kube-apiserver" "$K8S_DIR/kube-controller-manager" "$K8S_DIR/kube-scheduler" \
        "$ETCD_DIR/etcd" "$NODE_DIR/kwok" "$NODE_DIR/testbed-node"
}

built() {
    local b
    for b in $(binaries); do [[ -x "$b" ]] || return 1; done
    [[ -f "$NODE_DIR/stages/node-initialize.yaml" && -f "$NODE_DIR/stages/node-heartbeat-with-lease.yaml" ]]
}

# Builds into DIR.tmp and renames, so an interrupted build never looks finished.
build_into() { # DIR MODULE_DIR COMMAND...
    local dir="$1" module="$2"
    shift 2
    [[ -d "$dir" ]] && return 0
    rm -rf "$dir.tmp"
    mkdir -p "$dir.tmp"
    say "building $(basename "$dir") (the first build takes minutes)"
    local start=$SECONDS
    (cd "$module" && OUT="$dir.tmp" "$@") || { rm -rf "$dir.tmp"; die "failed to build $(basename "$dir")"; }
    mv "$dir.tmp" "$dir"
    say "built $(basename "$dir") in $((SECONDS - start)) s"
    # Other builds of the same component that nothing has built for a week go.
    local component
    component="$(basename "$dir")"
    find "$CACHE" -mindepth 1 -maxdepth 1 -type d -name "${component%-*}-*" ! -name "$component" -mtime +7 \
        -exec rm -rf {} + 2>/dev/null || true
}

build_kubernetes() {
    local ld="-s -w" p minor="${K8S_VERSION#v1.}"
    minor="${minor%%.*}"
    # Stamp the version as upstream's hack/lib/version.sh does, so clients see v1.37.x.
    for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        ld+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
        ld+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
    done
    go build -trimpath -ldflags "$ld" -o "$OUT/" \
        k8s.io/kubernetes/cmd/kube-apiserver \
        k8s.io/kubernetes/cmd/kube-controller-manager \
        k8s.io/kubernetes/cmd/kube-scheduler
}

build_etcd() {
    go build -trimpath -ldflags "-s -w" -o "$OUT/etcd" go.etcd.io/etcd/server/v3
}

build_node() {
    go build -trimpath -ldflags "-s -w" -o "$OUT/kwok" sigs.k8s.io/kwok/cmd/kwok
    go build -trimpath -ldflags "-s -w" -o "$OUT/testbed-node" .
    # KWOK's own node stages (Ready, heartbeat and lease), read from its module.
    local kwok
    kwok="$(go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
    mkdir -p "$OUT/stages"
    cp "$kwok/kustomize/stage/node/fast/node-initialize.yaml" \
        "$kwok/kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml" "$OUT/stages/"
    chmod u+w "$OUT/stages/"*
}

cmd_build() {
    command -v go >/dev/null 2>&1 || die "Go is needed to build the test bed (go 1.26 or later)"
    mkdir -p "$CACHE"
    exec 9>"$CACHE/.lock"
    flock 9
    local start=$SECONDS
    build_into "$K8S_DIR" "$HERE/k8s" build_kubernetes
    build_into "$ETCD_DIR" "$HERE/etcd" build_etcd
    build_into "$NODE_DIR" "$HERE/node" build_node
    built || die "the build finished but binaries are missing under $CACHE"
    say "ready in $((SECONDS - start)) s"
    printf '%s\n' $(binaries)
}

# The test bed may only run where `lo` is the only interface: a namespace made for the run.
require_isolated() {
    local links
    links="$(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort -u | tr '\n' ' ')"
    [[ "$links" == "lo " ]] || die "refusing to start outside an isolated network namespace (interfaces here: $links); use \`$0 exec CMD\` or \`$0 shell\`"
}

configure_loopback() {
    ip link set lo up
    local ip
    for ip in "${NODE_IPS[@]}"; do
        ip addr replace "$ip/32" dev lo
    done
    # Every pod address is local, so the API server's proxy reaches testbed-node here.
    ip route replace local "$POD_CIDR" dev lo
}

start() { # NAME COMMAND... (logs in $DIR/logs/NAME.log, pid in $DIR/pids)
    local name="$1"
    shift
    "$@" >"$DIR/logs/$name.log" 2>&1 &
    echo "$! $name" >>"$DIR/pids"
}

wait_http() { # URL WHAT
    local i
    for i in $(seq 1 300); do
        curl -fsk --max-time 2 "$1" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    die "$2 did not come up; see $DIR/logs"
}

write_kubeconfig() {
    local token ca
    token="$(cat "$DIR/pki/token")"
    ca="$(base64 -w0 "$DIR/pki/ca.crt")"
    umask 077
    cat >"$DIR/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: testbed
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: $ca
users:
- name: testbed-admin
  user:
    token: $token
contexts:
- name: testbed
  context:
    cluster: testbed
    user: testbed-admin
    namespace: default
current-context: testbed
EOF
}

cmd_up() {
    [[ $# -eq 1 ]] || die "usage: $0 up DIR"
    built || die "not built yet: run \`$0 build\` first (outside the namespace: building needs the Go module proxy)"
    require_isolated
    DIR="$(mkdir -p "$1" && cd "$1" && pwd)"
    [[ -s "$DIR/pids" ]] && die "$DIR already holds a running test bed; \`$0 down $DIR\` first"
    mkdir -p "$DIR/logs" "$DIR/etcd"
    : >"$DIR/pids"
    configure_loopback
    local node="$NODE_DIR/testbed-node" lessons="${KUBETUTOR_TESTBED_LESSONS:-$ROOT/lessons,$ROOT/tests/lessons}"
    "$node" pki "$DIR/pki"
    write_kubeconfig
    # The audit log records the requests of one user only, `kubetutor-counted` (token in
    # pki/token-counted), so a client's requests can be counted (benches/testbed.rs).
    cat >"$DIR/audit-policy.yaml" <<'EOF'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  users: [kubetutor-counted]
- level: None
EOF
    "$node" stages -lessons "$lessons" -o "$DIR/pod-stages.yaml"

    start etcd "$ETCD_DIR/etcd" --name testbed --data-dir "$DIR/etcd" \
        --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
        --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
        --initial-cluster testbed=http://127.0.0.1:2380 --listen-metrics-urls http://127.0.0.1:2381 \
        --unsafe-no-fsync
    wait_http http://127.0.0.1:2379/health etcd

    start kube-apiserver "$K8S_DIR/kube-apiserver" \
        --etcd-servers=http://127.0.0.1:2379 \
        --bind-address=0.0.0.0 --secure-port=6443 --advertise-address="${NODE_IPS[0]}" \
        --tls-cert-file="$DIR/pki/apiserver.crt" --tls-private-key-file="$DIR/pki/apiserver.key" \
        --client-ca-file="$DIR/pki/ca.crt" --token-auth-file="$DIR/pki/tokens.csv" \
        --authorization-mode=Node,RBAC \
        --service-account-issuer=https://kubernetes.default.svc.cluster.local \
        --service-account-key-file="$DIR/pki/sa.pub" \
        --service-account-signing-key-file="$DIR/pki/sa.key" \
        --service-cluster-ip-range="$SERVICE_CIDR" \
        --kubelet-preferred-address-types=InternalIP \
        --audit-policy-file="$DIR/audit-policy.yaml" --audit-log-path="$DIR/logs/audit.log" \
        --allow-privileged=true --profiling=false
    # The scheduler and the controller manager pick the events.k8s.io API only if discovery
    # answers when they start (client-go's NewEventBroadcasterAdapter); started earlier they
    # keep writing core/v1 events, unlike a cluster's. /readyz is open to anonymous requests.
    wait_http https://127.0.0.1:6443/readyz kube-apiserver
    start kube-controller-manager "$K8S_DIR/kube-controller-manager" \
        --kubeconfig="$DIR/kubeconfig" --leader-elect=false \
        --bind-address=127.0.0.1 --secure-port=10257 \
        --service-account-private-key-file="$DIR/pki/sa.key" --root-ca-file="$DIR/pki/ca.crt" \
        --cluster-name=testbed --profiling=false
    start kube-scheduler "$K8S_DIR/kube-scheduler" \
        --kubeconfig="$DIR/kubeconfig" --leader-elect=false \
        --bind-address=127.0.0.1 --secure-port=10259 --profiling=false
    start kwok "$NODE_DIR/kwok" --kubeconfig="$DIR/kubeconfig" \
        --config="$NODE_DIR/stages/node-initialize.yaml" \
        --config="$NODE_DIR/stages/node-heartbeat-with-lease.yaml" \
        --config="$DIR/pod-stages.yaml" \
        --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
        --cidr="$POD_CIDR" --node-ip="${NODE_IPS[0]}" --node-lease-duration-seconds=40
    "$node" setup -kubeconfig "$DIR/kubeconfig" >>"$DIR/logs/setup.log" 2>&1 ||
        { cmd_down "$DIR"; die "failed to start: $(tail -1 "$DIR/logs/setup.log"); see $DIR/logs"; }
    start testbed-node "$node" serve -kubeconfig "$DIR/kubeconfig" -pki "$DIR/pki" -lessons "$lessons"
    say "up: kube-apiserver $K8S_VERSION, etcd $ETCD_VERSION, KWOK $KWOK_VERSION, nodes ready"
    echo "export KUBECONFIG=$DIR/kubeconfig"
}

alive() { # PID: running, not a zombie (a process gone meanwhile is not alive either)
    local state
    state="$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null)" || return 1
    [[ -n "$state" && "$state" != Z && "$state" != X ]]
}

cmd_down() {
    [[ $# -eq 1 ]] || die "usage: $0 down DIR"
    local dir="$1" pid name i
    [[ -f "$dir/pids" ]] || return 0
    # One at a time, in reverse start order: the nodes first, etcd last (an API server whose
    # etcd is gone waits a long time before it exits).
    tac "$dir/pids" | while read -r pid name; do
        alive "$pid" || continue
        kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 1 100); do
            alive "$pid" || break
            sleep 0.1
        done
        if alive "$pid"; then
            say "$name did not stop within 10 s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    : >"$dir/pids"
}

cmd_exec() {
    [[ $# -ge 1 ]] || die "usage: $0 exec CMD..."
    command -v unshare >/dev/null 2>&1 || die "unshare (util-linux) is needed to isolate the test bed"
    # A UTS namespace too: the components' hostname is the control-plane node's, as on kind.
    local isolate=(unshare --net --uts --pid --fork --mount-proc)
    [[ "$(id -u)" -eq 0 ]] || isolate=(unshare --user --map-root-user --net --uts --pid --fork --mount-proc)
    # bash stays PID 1 of the namespace (reaping what the test bed leaves); when it exits,
    # the kernel ends every process left in the namespace.
    exec "${isolate[@]}" bash "$HERE/testbed.sh" _inside "$@"
}

cmd_inside() {
    ip link set lo up
    hostname testbed-control-plane
    "$@" &
    local child=$!
    trap 'kill -TERM $child 2>/dev/null' INT TERM
    local status=0
    wait "$child" || status=$?
    # `wait` returns early when a trapped signal arrives; wait for the child itself to end.
    while kill -0 "$child" 2>/dev/null; do wait "$child" || status=$?; done
    exit "$status"
}

cmd_shell() {
    local dir="${1:-$(mktemp -d)}"
    exec "$0" exec bash -c '
        "$0" up "$1" || exit 1
        export KUBECONFIG="$1/kubeconfig"
        echo "testbed: a shell in the test bed namespace; exit to stop it" >&2
        bash -i
        "$0" down "$1"' "$0" "$dir"
}

case "${1:-}" in
build) shift; cmd_build "$@" ;;
up) shift; cmd_up "$@" ;;
down) shift; cmd_down "$@" ;;
exec) shift; cmd_exec "$@" ;;
_inside) shift; cmd_inside "$@" ;;
shell) shift; cmd_shell "$@" ;;
paths) built && printf '%s\n' $(binaries) ;;
*) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
