#!/usr/bin/env bash
# Sets up Cartable on this machine, from a fresh clone to a server ready to start:
# dependencies, PostgreSQL and Redis (scripts/services.sh), Chromium for the browser tests,
# scepclient for the iPad enrollment tests and the Android agent's build tools (installed from
# Debian when run as root), build, the Android agent APK, migrations, demo data.
# Safe to run again.
#
#   bash scripts/setup.sh              (or: npm run setup)
#   bash scripts/setup.sh --no-seed    without the demo data
set -euo pipefail

seed=1
for arg in "$@"; do
  case $arg in
    --no-seed) seed= ;;
    -h | --help)
      sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0 ;;
    *)
      echo "setup: unknown option '$arg' (try --help)" >&2
      exit 2 ;;
  esac
done

cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*"; }
fail() {
  printf 'setup: ERROR: %s\n' "$*" >&2
  exit 1
}

step "Node.js"
command -v node >/dev/null 2>&1 ||
  fail "Node.js is not installed. Cartable needs Node.js 22.12 or newer (and npm): install Node.js 24 (e.g. with nvm), then run this again"
command -v npm >/dev/null 2>&1 || fail "npm is not installed (it normally comes with Node.js); install it, then run this again"
machine_node=$(command -v node)
# An older node (such as 20, past its end of life) is left alone: Node.js 24 is fetched into .cache/node.
# shellcheck source=scripts/node-lts.sh
source scripts/node-lts.sh || fail "Cartable needs Node.js 22.12 or newer and none could be installed; install Node.js 24 (e.g. with nvm), then run this again"
echo "Node.js $(node -p 'process.versions.node'), npm $(npm --version)"

step "Dependencies"
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  npm install --no-audit --no-fund
fi

step "PostgreSQL and Redis"
given_urls="${DATABASE_URL:+db}${REDIS_URL:+redis}"
# Sourced, so that the DATABASE_URL and REDIS_URL it settles on reach the steps below.
# shellcheck source=scripts/services.sh
source scripts/services.sh

step "Chromium (for the console's browser tests)"
# The browser tests drive Debian's Chromium through playwright-core; nothing is downloaded by npm.
if command -v chromium >/dev/null 2>&1 || [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  echo "Chromium is installed: $(chromium --version 2>/dev/null || echo "${CHROMIUM_PATH:-/usr/bin/chromium}")"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium package with apt-get"
  DEBIAN_FRONTEND=noninteractive apt-get update >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null ||
    fail "apt-get install chromium failed; install it yourself (the console's browser tests need it), then run this again"
  echo "Chromium installed: $(chromium --version 2>/dev/null)"
else
  echo "WARNING: Chromium is not installed, so the console's browser tests (part of npm test) will fail."
  echo "         Install it as root: apt-get install -y chromium (or set CHROMIUM_PATH to a Chromium binary)."
fi

step "scepclient (for the iPad enrollment tests)"
# Debian's scep package: micromdm's scepclient, an independent SCEP client the tests enroll with.
if command -v scepclient >/dev/null 2>&1 || [ -x "${SCEPCLIENT_PATH:-/usr/bin/scepclient}" ]; then
  echo "scepclient is installed: $(command -v scepclient || echo "${SCEPCLIENT_PATH:-/usr/bin/scepclient}")"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's scep package with apt-get"
  DEBIAN_FRONTEND=noninteractive apt-get update >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends scep >/dev/null ||
    fail "apt-get install scep failed; install it yourself (the iPad enrollment tests need scepclient), then run this again"
  echo "scepclient installed: $(command -v scepclient)"
else
  echo "WARNING: scepclient is not installed, so the iPad enrollment test against it (part of npm test) will fail."
  echo "         Install it as root: apt-get install -y scep (or set SCEPCLIENT_PATH to a scepclient binary)."
fi

step "Android agent build tools"
# Debian's JDK and Android tools build the agent APK (agent-protocol/android) and run its
# protocol core in the tests; dx and android.jar come from bullseye at build time, privately.
android_packages=(openjdk-17-jdk-headless aapt zipalign apksigner dexdump android-framework-res libandroid-json-java)
android_missing=()
for pkg in "${android_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || android_missing+=("$pkg")
done
if [ ${#android_missing[@]} -eq 0 ]; then
  echo "installed: ${android_packages[*]}"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's ${android_missing[*]} with apt-get"
  DEBIAN_FRONTEND=noninteractive apt-get update >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${android_missing[@]}" >/dev/null ||
    fail "apt-get install ${android_missing[*]} failed; install them yourself (the Android agent's build and tests need them), then run this again"
else
  echo "WARNING: ${android_missing[*]} not installed, so the Android agent cannot be built and its tests (part of npm test) will fail."
  echo "         Install them as root: apt-get install -y --no-install-recommends ${android_missing[*]}"
fi

step "Build"
npm run build

step "Android agent APK"
# Built here rather than in every test run; npm test checks the result (test/e2e/android-agent-apk.test.ts).
if npm run --silent build:agent; then
  :
else
  echo "WARNING: the Android agent APK could not be built (see above), so its checks in npm test will fail."
  echo "         Fix the cause, then run: npm run build:agent"
fi

step "Database migrations"
node bin/cartable.js migrate

if [ -n "$seed" ]; then
  step "Demo data"
  node bin/cartable.js seed-demo
fi

url=${CARTABLE_PUBLIC_URL:-http://localhost:${PORT:-3000}}
step "Done"
# Servers that services.sh found or started away from Cartable's defaults must be named when starting.
env_prefix=
[[ $given_urls == *db* || $DATABASE_URL == postgres://postgres@127.0.0.1:5432/cartable ]] || env_prefix+="DATABASE_URL=$DATABASE_URL "
[[ $given_urls == *redis* || $REDIS_URL == redis://127.0.0.1:6379/0 ]] || env_prefix+="REDIS_URL=$REDIS_URL "
# The machine's own node was too old: the one in .cache/node must come first on PATH.
[[ $(command -v node) == "$machine_node" ]] || env_prefix="PATH=$(dirname "$(command -v node)"):\$PATH $env_prefix"
cat <<EOF
Cartable is set up. Start it with:

    ${env_prefix}npm start

then open $url
EOF
echo "At its first start the server creates an administrator account and prints its password once."

