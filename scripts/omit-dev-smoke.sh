#!/usr/bin/env bash
# The production install starts (issue 17, docs/DEPLOY.md "Installing for production"): the tracked
# tree at HEAD in a scratch folder, `npm ci --omit=dev`, `npm start` on a free port; then /healthz
# must name an engine backend, a new session must be created and its first frame served.
# Run by .ci/run after the tests; by hand: `bash scripts/omit-dev-smoke.sh` (2–4 minutes, most of
# it the install).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
pid=
cleanup() {
  # npm does not pass the signal on to the server it started: stop the whole process group.
  if [ -n "$pid" ]; then kill -- -"$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

git -C "$root" archive HEAD | tar -x -C "$work"
cd "$work"
npm ci --omit=dev --no-audit --no-fund
for dev in typescript playwright-core; do
  if [ -d "node_modules/$dev" ]; then echo "omit-dev smoke: $dev (a devDependency) was installed" >&2; exit 1; fi
done

PORT=0 HOST=127.0.0.1 DATA_DIR="$work/data" setsid npm start > "$work/server.log" 2>&1 &
pid=$!
url=
for _ in $(seq 1 180); do
  url=$(grep -o 'listening on http://[^ ]*' "$work/server.log" | head -n1 | cut -d' ' -f3 || true)
  [ -n "$url" ] && break
  if ! kill -0 "$pid" 2>/dev/null; then cat "$work/server.log" >&2; echo "omit-dev smoke: npm start exited" >&2; exit 1; fi
  sleep 1
done
if [ -z "$url" ]; then cat "$work/server.log" >&2; echo "omit-dev smoke: no 'listening on' within 180 s" >&2; exit 1; fi

# The rest through Node's fetch (no curl needed): the engine backend once ready, a new session, its first frame.
node --input-type=module - "$url" <<'JS' || { cat "$work/server.log" >&2; exit 1; }
const url = process.argv[2];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fail = (why) => { console.error(`omit-dev smoke: ${why}`); process.exit(1); };
let backend = 'pending';
for (let i = 0; i < 60 && backend === 'pending'; i++) {
  backend = (await (await fetch(`${url}/healthz`)).json()).backend;
  if (backend === 'pending') await sleep(1000);
}
if (backend === 'pending') fail('the engine never became ready');
const created = await (await fetch(`${url}/api/sessions`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' })).json();
for (let i = 0; i < 60; i++) {
  const r = await fetch(`${url}/api/sessions/${created.id}/frame.jpg?token=${created.viewerToken}`);
  if (r.ok) {
    const bytes = (await r.arrayBuffer()).byteLength;
    console.log(`omit-dev smoke: npm start after npm ci --omit=dev serves ${url} (backend ${backend}), first frame ${bytes} bytes`);
    process.exit(0);
  }
  await sleep(1000);
}
fail('no frame within 60 s');
JS
