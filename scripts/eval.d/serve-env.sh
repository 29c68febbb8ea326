# serve-env.sh — sourced by bench-serve.sh and bench-serve-ab.sh: starting a service on a
# bench bank. The caller defines die().

# Drops BANK's index file from the page cache, as after a reboot: the service then reads
# it in as huge pages (src/search/mapped.rs), where pages left by an earlier process may
# be small ones.
drop_index_cache() { # BANK
    find "$1/search-index" -type f -print0 2>/dev/null |
        while IFS= read -r -d '' f; do dd if="$f" iflag=nocache count=0 status=none || true; done
}

# Starts `BIN serve` on BANK on a free loopback port, its index file dropped from the
# page cache first, and waits for its address; sets SERVE (the pid) and ADDR. Its stdout
# and stderr go to OUT.out and OUT.err.
start_serve() { # BIN BANK OUT
    drop_index_cache "$2"
    "$1" serve --db "$2" --listen 127.0.0.1:0 >"$3.out" 2>"$3.err" &
    SERVE=$!
    for _ in $(seq 600); do
        grep -q 'listening on' "$3.out" 2>/dev/null && break
        kill -0 $SERVE 2>/dev/null || die "serve stopped: $(cat "$3.err")"
        sleep 0.1
    done
    ADDR="$(sed -n 's#^listening on http://##p' "$3.out")"
    [ -n "$ADDR" ] || die "serve did not say where it listens"
}
