#!/bin/sh
# Fills fuzz/corpus/<target>/ with seeds taken from the repository: the
# workflow fixtures and examples for `load_compile`, and every `{{ }}`
# expression written in them (plus a few by hand) for `expr_eval`.
# Nothing here is checked in; run it once before fuzzing.
set -eu
cd "$(dirname "$0")"
root=..
load=corpus/load_compile
expr=corpus/expr_eval
yaql=corpus/yaql_eval
mkdir -p "$load" "$expr" "$yaql"

files=$(ls "$root"/crates/weft-core/tests/fixtures/valid/* \
           "$root"/crates/weft-core/tests/fixtures/invalid/* \
           "$root"/examples/workflows/*.yaml "$root"/crates/weft-cli/tests/data/*.yaml)
for f in $files; do
    case "$f" in *.expect) continue ;; esac
    cp "$f" "$load/$(basename "$(dirname "$f")")-$(basename "$f")"
done

# One expression per file, named by its checksum.
{
    grep -ohE '\{\{[^}]*\}\}' $files || true
    printf '%s\n' \
        '{{ parameters.hosts | length }}' \
        '{{ task.fetch.items[1].name }}' \
        '{{ item.x + index }}' \
        '{{ ctx("count") * 2 }}' \
        'host {{ item.y }} of {{ parameters.app }}' \
        '{% for h in parameters.hosts %}{{ h }},{% endfor %}' \
        '{{ zip(parameters.hosts, [1, 2]) | list }}' \
        '{{ json("[1, 2]") }}'
} | sort -u | while IFS= read -r line; do
    sum=$(printf '%s' "$line" | cksum | cut -d' ' -f1)
    printf '%s' "$line" > "$expr/$sum"
done

# YAQL: the differential suite's strings and the `<% %>` expressions of the
# StackStorm workflows, each as the text inside `<% %>` (a leading byte
# that is not a multiple of 4 asks the target to add the delimiters).
{
    grep -v '^#' "$root"/crates/weft-core/tests/yaql/expressions.txt \
        | grep -oE '<%.*%>' | sed -E 's/^<% *//; s/ *%>$//' || true
    grep -rhoE '<%[^%]*%>' "$root"/crates/weft-core/tests/stackstorm 2>/dev/null \
        | sed -E 's/^<% *//; s/ *%>$//' || true
} | sort -u | while IFS= read -r line; do
    sum=$(printf '%s' "$line" | cksum | cut -d' ' -f1)
    printf '\001%s' "$line" > "$yaql/$sum"
done

echo "seeded $(ls "$load" | wc -l) workflows, $(ls "$expr" | wc -l) expressions and $(ls "$yaql" | wc -l) YAQL expressions"
