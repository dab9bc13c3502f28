/** `vgw eval`'s part of the CLI usage text (its own file, so `vgw --help` loads nothing of the eval). */
export const EVAL_USAGE = `  vgw eval [--url http://localhost:8080] [--scenarios dir|file,...] [--repeat 1] [--concurrency 2]
               [--rate 8000|16000|24000] [--words first|all|none] [--out result.json] [--json]

eval plays scripted calls (scenarios: JSON, schema docs/eval-scenario.schema.json; default the shipped
eval/scenarios/) against a running gateway, with line impairments (band-limit, noise, jitter, echo), and scores turn-
taking at the caller: turn latency, barge-in stop latency, false and missed barge-ins, premature cut-offs, words heard.
  --rate     run every scenario at this leg rate (the gateway must serve it); otherwise scenarios pinned to another
             rate than the gateway's are skipped
  --words    transcribe what the caller heard (pocketsphinx) for the first run of each scenario, every run, or none
`;
