# Shared by the benchmark scripts: waiting for a quiet machine before a measured run.
# Source it; it reads QUIET_WAIT (seconds to wait at most; 0 waits not at all).

# Busy cores over the last second: wall time x cores minus idle, iowait and steal from /proc/stat
# (idle is exact on a tickless kernel; the busy counters are tick samples that miss short bursts).
busy_cores() {
    local a b t0 t1
    t0=$(date +%s.%N); a=$(head -n 1 /proc/stat); sleep 1; b=$(head -n 1 /proc/stat); t1=$(date +%s.%N)
    echo "$a $b" | awk -v hz="$(getconf CLK_TCK)" -v cores="$(nproc)" -v t0="$t0" -v t1="$t1" \
        '{ idle = ($16 + $17 + $20) - ($5 + $6 + $9); b = cores - idle / hz / (t1 - t0); printf "%.2f", (b < 0 ? 0 : b) }'
}

# On a shared machine other programs come and go; a run next to a compiler measures the compiler.
wait_for_quiet() {
    local waited=0 busy
    [ "${QUIET_WAIT:-0}" -gt 0 ] || return 0
    while busy=$(busy_cores); awk -v b="$busy" 'BEGIN { exit !(b > 0.25) }'; do
        if [ "$waited" -ge "$QUIET_WAIT" ]; then
            echo "warning: still $busy cores busy after ${QUIET_WAIT}s; running anyway" >&2
            return 0
        fi
        [ "$waited" -eq 0 ] && echo "waiting for the machine to go quiet ($busy cores busy)" >&2
        waited=$((waited + 1))
    done
}
