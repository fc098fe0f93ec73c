# Makes a script's text for a Redis function library (FUNCTION LOAD) from
# what its EVAL text has before its body: the contract's prelude and the
# parts of common.lua it uses.  A library's top level runs once, when it is
# loaded, not at every call as an EVAL chunk does (issue 12); so what must
# be new at every call becomes a local of the library set by the function
# itself: KEYS and ARGV, the contract's K_ and A_ names, and the lines of
# common.lua marked "-- per call".  mode=decl prints the library's top
# level, mode=set the statements that begin every call.  Plain POSIX awk.

# the statements of a call are printed at the end: a name the contract
# declares again as a constant (K_Q = 2, the first of KEYS[2..]) is not
# reset by them
function emit(names, value) {
    if (mode == "decl") {
        print "local " names
    } else {
        n++
        set[n] = names
        val[n] = value
    }
}

/^local [A-Za-z_][A-Za-z0-9_]* = (KEYS|ARGV)\[/ {
    name = $2
    value = $0
    sub(/^[^=]*= */, "", value)
    emit(name, value)
    next
}

/^local [KA]_[A-Za-z0-9_]*[ \t]*$/ {
    emit($2, "nil")
    next
}

/-- per call$/ {
    line = $0
    sub(/[ \t]*-- per call$/, "", line)
    sub(/^local /, "", line)
    i = index(line, " = ")
    emit(substr(line, 1, i - 1), substr(line, i + 3))
    next
}

/^local [A-Za-z_][A-Za-z0-9_]* = / {
    for (i = 1; i <= n; i++) {
        if (set[i] == $2) {
            set[i] = ""
        }
    }
}

mode == "decl" { print }

END {
    for (i = 1; i <= n; i++) {
        if (set[i] != "") {
            print "    " set[i] " = " val[i]
        }
    }
}
