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
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

git -C "$root" archive HEAD | tar -x -C "$work"
cd "$work"
npm ci --omit=dev --no-audit --no-fund
for dev in typescript playwright-core; do
  if [ -d "node_modules/$dev" ]; then echo "omit-dev smoke: $dev (a devDependency) was installed" >&2; exit 1; fi
done

PORT=0 HOST=127.0.0.1 DATA_DIR="$work/data" npm start > "$work/server.log" 2>&1 &
pid=$!
url=
for _ in $(seq 1 180); do
  url=$(grep -o 'listening on http://[^ ]*' "$work/server.log" | head -n1 | cut -d' ' -f3 || true)
  [ -n "$url" ] && break
  if ! kill -0 "$pid" 2>/dev/null; then cat "$work/server.log" >&2; echo "omit-dev smoke: npm start exited" >&2; exit 1; fi
  sleep 1
done
if [ -z "$url" ]; then cat "$work/server.log" >&2; echo "omit-dev smoke: no 'listening on' within 180 s" >&2; exit 1; fi

backend=
for _ in $(seq 1 60); do
  backend=$(curl -fsS "$url/healthz" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const b=JSON.parse(s).backend;process.stdout.write(b==="pending"?"":b)})')
  [ -n "$backend" ] && break
  sleep 1
done
if [ -z "$backend" ]; then cat "$work/server.log" >&2; echo "omit-dev smoke: the engine never became ready" >&2; exit 1; fi

created=$(curl -fsS -X POST -H 'Content-Type: application/json' -d '{}' "$url/api/sessions")
frame=$(node -e 'const c=JSON.parse(process.argv[1]);process.stdout.write(`/api/sessions/${c.id}/frame.jpg?token=${c.viewerToken}`)' "$created")
for _ in $(seq 1 60); do
  if curl -fsS -o "$work/frame.jpg" "$url$frame" 2>/dev/null; then
    echo "omit-dev smoke: npm start after npm ci --omit=dev serves $url (backend $backend), first frame $(wc -c < "$work/frame.jpg") bytes"
    exit 0
  fi
  sleep 1
done
cat "$work/server.log" >&2
echo "omit-dev smoke: no frame within 60 s" >&2
exit 1
