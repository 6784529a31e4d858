#!/usr/bin/env bash
# A one-node SLURM cluster on this machine, to try the cluster path (docs/cluster.md) on a laptop and for
# make test-slurm: munged, slurmctld and slurmd started as this script's own processes, with their
# configuration, state, logs and sockets in one folder, and stopped again without touching anything else.
#
#   scripts/slurm_local.sh start [DIR]   install slurm-wlm and munge where missing (Debian/Ubuntu, as root),
#                                        write DIR/slurm.conf, start the daemons, wait until the node is idle;
#                                        prints `export SLURM_CONF=DIR/slurm.conf` (eval it to use sbatch & co)
#   scripts/slurm_local.sh stop [DIR]    cancel the cluster's jobs and stop exactly what start started
#   scripts/slurm_local.sh status [DIR]  sinfo and squeue of that cluster
#
# DIR defaults to $SLURM_LOCAL_DIR, else /tmp/adamomentum-slurm-$UID. Variables:
#   SLURM_LOCAL_INSTALL=0       never install packages (start then fails with exit 3 where they are missing)
#   SLURM_LOCAL_GRACE_TIME=30   GraceTime (s) of the default partition when a job of `urgent` preempts it
#   SLURM_LOCAL_CRED_EXPIRE=10  how long (s) a requeued job waits before it may start again (Slurm's default: 120)
#
# Partitions, all on this one node: `main` (the default; preempted with a grace time of SLURM_LOCAL_GRACE_TIME
# seconds, the job's --signal sent at its start), `main-nograce` (preempted with SLURM's default GraceTime=0)
# and `urgent` (higher PriorityTier: its jobs requeue the others' when they need the node).
# Exit status of start: 0 running; 3 cannot run here (the reason on stderr: no packages, not root, ...);
# 1 a daemon did not come up (the tail of its log on stderr).
set -euo pipefail

CANNOT=3
say() { echo "slurm_local: $*" >&2; }
cannot() {
    say "cannot start: $*"
    exit $CANNOT
}

command_name=${1:-}
DIR=${2:-${SLURM_LOCAL_DIR:-/tmp/adamomentum-slurm-$(id -u)}}
case "$DIR" in /*) ;; *) DIR="$(pwd)/$DIR" ;; esac
DIR=${DIR%/}
[ -n "$DIR" ] || { echo "slurm_local: the cluster's folder cannot be /" >&2; exit 2; }
CONF="$DIR/slurm.conf"
# Every daemon carries this variable: stop finds what is left of them, and nothing else, by it (and the
# processes of this cluster's jobs by their SLURM_CONF, see leftovers).
MARK="ADAMOMENTUM_SLURM_LOCAL=$DIR"

# ---------------------------------------------------------------- packages

have_binaries() {
    local b
    for b in munged slurmctld slurmd sbatch sinfo squeue scontrol scancel srun; do
        command -v "$b" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$b" >/dev/null 2>&1 || return 1
    done
}

install_packages() {
    have_binaries && return 0
    [ "${SLURM_LOCAL_INSTALL:-1}" != 0 ] || cannot "slurm-wlm and munge are not installed (SLURM_LOCAL_INSTALL=0)"
    [ "$(id -u)" = 0 ] || cannot "slurm-wlm and munge are not installed; as root: apt-get install slurm-wlm munge"
    command -v apt-get >/dev/null || cannot "slurm-wlm and munge are not installed, and this is no Debian/Ubuntu (no apt-get)"
    say "installing slurm-wlm and munge (apt-get)"
    local log="${TMPDIR:-/tmp}/slurm_local-apt.$$.log"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >"$log" 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$log" 2>&1 || true
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge >>"$log" 2>&1 ||
            cannot "apt-get install slurm-wlm munge failed: $(tail -n 1 "$log")"
    fi
    rm -f "$log"
    have_binaries || cannot "slurm-wlm and munge installed, but their commands are not on PATH"
}

# ---------------------------------------------------------------- processes

# The process whose pid DIR/NAME.pid holds, if it is still the one this script started (its environment
# carries MARK): a reused pid is never signalled.
ours() {
    local pid
    pid=$(cat "$DIR/$1.pid" 2>/dev/null) || return 1
    [ -n "$pid" ] && marked "$pid" && echo "$pid"
}

marked() {
    { tr '\0' '\n' <"/proc/$1/environ"; } 2>/dev/null | grep -qxF "$MARK"
}

# Every process that carries MARK (the daemons), or that has this cluster's SLURM_CONF and is a slurmstepd
# (its title overwrites the rest of its environment) or runs a job (SLURM_JOB_ID), except this script and
# its ancestors. A sweep command waiting on the cluster is its user's, and left alone.
leftovers() {
    local keep=" $$ " p=$$ env proc pid
    while [ "$p" -gt 1 ] 2>/dev/null; do
        p=$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null) || break
        keep="$keep$p "
    done
    for proc in /proc/[0-9]*; do
        pid=${proc#/proc/}
        case "$keep" in *" $pid "*) continue ;; esac
        env=$( { tr '\0' '\n' <"$proc/environ"; } 2>/dev/null) || continue
        if grep -qxF "$MARK" <<<"$env" || { grep -qxF "SLURM_CONF=$CONF" <<<"$env" &&
            { grep -q '^SLURM_JOB_ID=' <<<"$env" || grep -q '^slurmstepd' "$proc/cmdline" 2>/dev/null; }; }; then
            echo "$pid"
        fi
    done
}

start_daemon() {  # NAME COMMAND...: started in its own session, in the background, pid in DIR/NAME.pid
    local name=$1
    shift
    env "$MARK" SLURM_CONF="$CONF" setsid "$@" </dev/null >>"$DIR/log/$name.out" 2>&1 &
    echo $! >"$DIR/$name.pid"
}

fail_start() {  # the reason, and the tail of the logs, then everything started so far stopped
    say "$1"
    local f
    for f in "$DIR"/log/*; do
        [ -s "$f" ] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }
    done
    stop_cluster >/dev/null 2>&1 || true
    exit 1
}

free_port() {  # a TCP port nothing listens on, from the range SLURM's defaults sit in
    local port
    for port in $(seq "$1" $(($1 + 200))); do
        if ! ss -Htln "sport = :$port" 2>/dev/null | grep -q .; then
            echo "$port"
            return
        fi
    done
    echo "$1"
}

# ---------------------------------------------------------------- start

write_conf() {
    local host node user slurmctld_port slurmd_port
    host=$(hostname -s)
    # The node as slurmd sees this machine (CPUs, sockets, cores, memory); more than that drains it.
    node=$(slurmd -C | head -n 1)
    user=$(id -un)
    slurmctld_port=$(free_port 16817)
    slurmd_port=$(free_port $((slurmctld_port + 1)))
    cat >"$CONF" <<EOF
# Written by scripts/slurm_local.sh for a one-node cluster on $host; everything lives under $DIR.
ClusterName=adamomentum-local
SlurmctldHost=$host(127.0.0.1)
SlurmUser=$user
SlurmdUser=$user
SlurmctldPort=$slurmctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
CredType=cred/munge
# Our own munged. cred_expire: how long a requeued job waits before it can start again (default 120 s).
AuthInfo=socket=$DIR/munge/munge.socket.2,cred_expire=${SLURM_LOCAL_CRED_EXPIRE:-10}
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.daemon.pid
SlurmdPidFile=$DIR/slurmd.daemon.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups: processes are tracked through /proc, tasks are not bound.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
ReturnToService=2
# No accounting storage (that needs slurmdbd and a database): sacct fails, see docs/cluster.md.
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
# Schedule every second rather than every minute, so that a requeued job starts once cred_expire is over.
# preempt_send_user_signal: a preempted job gets its --signal (USR2 from submitit) when its grace time starts
# (Slurm 22.05 reads it here; newer releases spell it PreemptParameters=send_user_signal).
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1,bf_interval=1
SlurmctldParameters=preempt_send_user_signal
PreemptType=preempt/partition_prio
PreemptMode=REQUEUE
MinJobAge=60
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=main Nodes=$host Default=YES MaxTime=INFINITE State=UP PriorityTier=1 PreemptMode=REQUEUE GraceTime=${SLURM_LOCAL_GRACE_TIME:-30}
PartitionName=main-nograce Nodes=$host MaxTime=INFINITE State=UP PriorityTier=1 PreemptMode=REQUEUE GraceTime=0
PartitionName=urgent Nodes=$host MaxTime=INFINITE State=UP PriorityTier=10 PreemptMode=OFF
EOF
}

wait_for() {  # SECONDS DESCRIPTION COMMAND...: until COMMAND succeeds
    local seconds=$1 what=$2 i
    shift 2
    for i in $(seq $((seconds * 5))); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    fail_start "$what did not come up within $seconds s"
}

node_idle() {
    [ "$(SLURM_CONF=$CONF sinfo -h -N -o %T -p main 2>/dev/null)" = idle ]
}

start_cluster() {
    install_packages
    PATH="$PATH:/usr/sbin:/sbin"
    if ours slurmctld >/dev/null || ours slurmd >/dev/null || ours munged >/dev/null; then
        say "already running in $DIR (stop it first: $0 stop $DIR)"
        node_idle || say "its node is not idle"
        echo "export SLURM_CONF=$CONF"
        return 0
    fi
    [ "$(id -u)" = 0 ] || cannot "slurmd starts jobs as their users and must run as root here (sudo $0 start)"
    # munged checks that the socket's folder is not writable by others; a path too long for a socket fails.
    [ ${#DIR} -le 80 ] || cannot "$DIR is too long a path for munge's socket (80 characters at most)"
    mkdir -p "$DIR"
    rm -rf "$DIR/state" "$DIR/spool" "$DIR/munge" "$DIR/log" "$DIR"/*.pid
    mkdir -p "$DIR/state" "$DIR/spool" "$DIR/munge" "$DIR/log"
    # Users other than root submit too: they read slurm.conf and reach munged's socket (the key stays root's).
    chmod 755 "$DIR" "$DIR/munge"
    write_conf
    if command -v mungekey >/dev/null; then
        mungekey --create --keyfile="$DIR/munge/munge.key" --force
    else
        dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
    fi
    chmod 400 "$DIR/munge/munge.key"

    start_daemon munged munged --foreground --force --key-file="$DIR/munge/munge.key" \
        --socket="$DIR/munge/munge.socket.2" --pid-file="$DIR/munge/munged.pid" \
        --seed-file="$DIR/munge/munged.seed" --log-file="$DIR/log/munged.log"
    wait_for 10 munged munge --socket="$DIR/munge/munge.socket.2" -n
    start_daemon slurmctld slurmctld -D -f "$CONF"
    wait_for 20 slurmctld env SLURM_CONF="$CONF" scontrol ping
    start_daemon slurmd slurmd -D -f "$CONF"
    wait_for 30 "the node (sinfo: idle)" node_idle
    say "running: $(SLURM_CONF=$CONF sinfo -h -o '%P %a %D %T' | tr '\n' ';' | sed 's/;$//'); $(SLURM_CONF=$CONF sinfo -V)"
    echo "export SLURM_CONF=$CONF"
}

# ---------------------------------------------------------------- stop

stop_cluster() {
    PATH="$PATH:/usr/sbin:/sbin"
    local pid jobs i name left
    # Jobs first, while slurmctld and slurmd can still end them: their processes go with them.
    if ours slurmctld >/dev/null && [ -f "$CONF" ]; then
        jobs=$(SLURM_CONF=$CONF timeout 10 squeue -h -o %A 2>/dev/null | sort -u | tr '\n' ' ') || jobs=""
        if [ -n "${jobs// /}" ]; then
            # shellcheck disable=SC2086
            SLURM_CONF=$CONF timeout 10 scancel $jobs 2>/dev/null || true
            for i in $(seq 100); do
                [ -z "$(SLURM_CONF=$CONF timeout 10 squeue -h -t R,CG,S,CF 2>/dev/null)" ] && break
                sleep 0.2
            done
        fi
    fi
    for name in slurmd slurmctld munged; do
        pid=$(ours "$name") || continue
        kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 50); do
            marked "$pid" || break
            sleep 0.2
        done
        marked "$pid" && kill -KILL "$pid" 2>/dev/null || true
    done
    # What the daemons left: a slurmstepd, a job's processes.
    left=$(leftovers)
    if [ -n "$left" ]; then
        # shellcheck disable=SC2086
        kill -TERM $left 2>/dev/null || true
        sleep 1
        left=$(leftovers)
        # shellcheck disable=SC2086
        [ -z "$left" ] || kill -KILL $left 2>/dev/null || true
    fi
    rm -f "$DIR"/*.pid "$DIR/munge/munge.socket.2"*
    left=$(leftovers)
    if [ -n "$left" ]; then
        say "still running after stop: $left"
        return 1
    fi
    say "stopped (nothing of $DIR runs)"
}

case "$command_name" in
start) start_cluster ;;
stop) stop_cluster ;;
status)
    if ours slurmctld >/dev/null; then
        SLURM_CONF=$CONF sinfo
        SLURM_CONF=$CONF squeue
    else
        say "not running in $DIR"
        exit 1
    fi
    ;;
*)
    echo "usage: $0 start|stop|status [DIR]   (DIR: \$SLURM_LOCAL_DIR, else /tmp/adamomentum-slurm-\$UID)" >&2
    exit 2
    ;;
esac
