#!/usr/bin/env bash
# The check step of action.yml: budgets for each spec, and a diff of each spec file against BASE_REF,
# as Markdown in the job summary. Inputs come through the environment (never spliced into the script).
set -uo pipefail
summary="${GITHUB_STEP_SUMMARY:-/dev/stdout}"
budgets=()
[ -n "${MAX_PARAMS:-}" ] && budgets+=(--max-params "$MAX_PARAMS")
[ -n "${MAX_MACS:-}" ] && budgets+=(--max-macs "$MAX_MACS")
[ -n "${MAX_FLOPS:-}" ] && budgets+=(--max-flops "$MAX_FLOPS")
[ -n "${MAX_ACTIVATION_BYTES:-}" ] && budgets+=(--max-activation-bytes "$MAX_ACTIVATION_BYTES")
[ -n "${MAX_WEIGHTS_BYTES:-}" ] && budgets+=(--max-weights-bytes "$MAX_WEIGHTS_BYTES")
read -r -d '' -a specs <<< "${SPECS:-}"
if [ "${#specs[@]}" -eq 0 ]; then
    echo "error: the 'specs' input is empty (hint: specs: my_net.yaml)" >&2
    exit 2
fi
status=0
echo "## rescomp" >> "$summary"
for spec in "${specs[@]}"; do
    echo >> "$summary"
    if [ "${#budgets[@]}" -gt 0 ]; then
        rescomp check "$spec" "${budgets[@]}" --markdown >> "$summary"
        code=$?
        [ "$code" -ne 0 ] && status=$code
    else
        rescomp analyze "$spec" > /dev/null || status=1
    fi
    if [ -n "${BASE_REF:-}" ] && [ -f "$spec" ]; then
        base="$(mktemp --suffix=.yaml)"
        if git show "$BASE_REF:$spec" > "$base" 2>/dev/null; then
            { echo; echo "**$spec** against \`$BASE_REF\`:"; echo; } >> "$summary"
            rescomp diff "$base" "$spec" --markdown >> "$summary" || status=1
        else
            { echo; echo "**$spec** is new (not in \`$BASE_REF\`)."; } >> "$summary"
        fi
        rm -f "$base"
    fi
done
if [ "$status" -eq 0 ]; then passed=true; else passed=false; fi
echo "passed=$passed" >> "${GITHUB_OUTPUT:-/dev/null}"
exit "$status"
