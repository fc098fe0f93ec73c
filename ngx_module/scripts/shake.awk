# Prints the parts of common.lua (the first file) that a script's body (the
# second) needs, in common.lua's order: Redis runs a script's top level on
# every call, and every function defined there costs a closure each time
# (a few microseconds for all of them), so a script carries only its own.
# A part is a top-level "local ..." statement with the comment lines
# right above it; it is needed when its name is, by the body or by a part
# that is needed.  Plain POSIX awk: config runs it.

function words(text, into,   lines, k, i, s, w) {
    k = split(text, lines, "\n")
    for (i = 1; i <= k; i++) {
        s = lines[i]
        sub(/--.*$/, "", s)                 # a comment's words are not uses
        gsub(/'[^']*'|"[^"]*"/, "", s)      # nor a string's
        while (match(s, /[A-Za-z_][A-Za-z0-9_]*/)) {
            w = substr(s, RSTART, RLENGTH)
            into[w] = 1
            s = substr(s, RSTART + RLENGTH)
        }
    }
}

FNR == 1 { file++ }

file == 1 && /^local / {
    n++
    text[n] = pending $0 "\n"
    pending = ""
    line = $0
    sub(/^local (function )?/, "", line)
    # "local a, b = ...", "local function f(...)": the names it defines
    split(line, parts, /[=(]/)
    names = parts[1]
    gsub(/[ \t]/, "", names)
    k = split(names, nm, ",")
    for (i = 1; i <= k; i++) {
        defines[nm[i]] = n
    }
    cur = n
    next
}

file == 1 && /^--/ && (cur == 0 || ended) {
    pending = pending $0 "\n"
    next
}

file == 1 {
    if (cur) {
        text[cur] = text[cur] $0 "\n"
    }
    # a part ends at a blank line; comments after it belong to the next
    ended = ($0 ~ /^$/)
    if (!cur) {
        pending = pending $0 "\n"
    }
    next
}

file == 2 {
    words($0, used)
}

END {
    # the header of common.lua (before its first part) always comes
    do {
        changed = 0
        for (w in used) {
            p = defines[w]
            if (p && !need[p]) {
                need[p] = 1
                changed = 1
                delete tmp
                words(text[p], tmp)
                for (x in tmp) used[x] = 1
            }
        }
    } while (changed)

    printf "%s", head
    for (p = 1; p <= n; p++) {
        if (need[p]) printf "%s", text[p]
    }
}
