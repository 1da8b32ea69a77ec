#!/usr/bin/env bash
# Builds the Cartable Android agent (fr.cartable.agent) from Debian's packages alone: compiles,
# dexes, packages, aligns and signs the APK, checks it, and prints the provisioning checksum.
#
#   bash agent-protocol/android/build.sh          (or: npm run build:agent)
#
# Needs, from Debian bookworm (scripts/setup.sh installs them as root): openjdk-17-jdk-headless,
# aapt, zipalign, apksigner, dexdump, android-framework-res, libandroid-json-java.
# Fetches, from Debian bullseye, dalvik-exchange (dx) and libandroid-23-java (android.jar) into
# .cache/agent-apk with a private apt configuration: the system's apt sources are not touched.
# Compiles against the framework stubs in stubs/src and against android.jar, and checks that both
# give the same class files.
#
# Environment:
#   DEBIAN_MIRROR               where bullseye is fetched from (default: the machine's Debian mirror,
#                               else http://deb.debian.org/debian). Once bullseye has left the mirror,
#                               use DEBIAN_MIRROR=http://archive.debian.org/debian.
#   CARTABLE_AGENT_KEYSTORE     PKCS#12 signing key (default: a development key generated on first use
#                               in ~/.config/cartable/agent-dev.p12, never in the repository)
#   CARTABLE_AGENT_KEYSTORE_PASS   its password (default for the development key: "cartable-dev")
#   CARTABLE_AGENT_KEY_ALIAS    key alias in the keystore (default: agent)
#   CARTABLE_AGENT_OUT          output folder (default: dist/agent)
#   CARTABLE_AGENT_STUBS_ONLY=1 compile against the framework stubs alone, without fetching android.jar
#                               (by default the agent is compiled against both and the results compared)
#   CARTABLE_AGENT_DEV=1        a development build: debuggable, and it accepts http:// servers
#                               (protocol §26). Never for tablets in service.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cache="$root/.cache/agent-apk"
out=${CARTABLE_AGENT_OUT:-$root/dist/agent}
work="$cache/work"

fail() {
  printf 'build-agent: ERROR: %s\n' "$*" >&2
  exit 1
}
step() { printf '==> %s\n' "$*"; }

# --- Tools from bookworm -------------------------------------------------------------------
json_jar=/usr/share/java/com.android.json.jar
framework_res=/usr/share/android-framework-res/framework-res.apk
missing=()
for tool in javac java keytool aapt zipalign apksigner dexdump; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
[ -f "$json_jar" ] || missing+=("$json_jar")
[ -f "$framework_res" ] || missing+=("$framework_res")
if [ ${#missing[@]} -gt 0 ]; then
  fail "missing ${missing[*]}. Install Debian's packages as root:
    apt-get install -y --no-install-recommends openjdk-17-jdk-headless aapt zipalign apksigner dexdump android-framework-res libandroid-json-java
(or run: bash scripts/setup.sh)"
fi

# --- dx and android.jar from bullseye, with a private apt configuration ---------------------
dx_jar="$cache/dx.jar"
android_jar="$cache/android-23.jar"

mirror_of_system() {
  # The first Debian mirror the machine itself uses (deb822 or one-line sources).
  grep -hoE '(https?://[^ ]+/debian)/?( |$)' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
    grep -v security | head -n1 | tr -d ' ' | sed 's#/$##'
}

fetch_bullseye() {
  local mirror=${DEBIAN_MIRROR:-$(mirror_of_system)}
  mirror=${mirror:-http://deb.debian.org/debian}
  local apt="$cache/apt"
  mkdir -p "$apt/lists/partial" "$apt/archives/partial" "$apt/prefs.d" "$apt/parts.d" "$cache/debs"
  : >"$apt/status"
  # Debian's keyring (debian-archive-keyring, always installed) still holds bullseye's keys.
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror bullseye main" >"$apt/sources.list"
  local opts=(
    -o "Dir::Etc::sourcelist=$apt/sources.list" -o "Dir::Etc::sourceparts=$apt/parts.d"
    -o "Dir::Etc::preferencesparts=$apt/prefs.d" -o "Dir::State::Lists=$apt/lists"
    -o "Dir::State::status=$apt/status" -o "Dir::Cache=$apt" -o "Dir::Cache::archives=$apt/archives"
    -o "APT::Architecture=$(dpkg --print-architecture)" -o "APT::Sandbox::User=$(id -un)"
    -o "Acquire::Languages=none" -o "Debug::NoLocking=1"
  )
  # The archive (archive.debian.org) keeps bullseye's Release file with its last, expired date.
  [[ $mirror == *archive.debian.org* ]] && opts+=(-o "Acquire::Check-Valid-Until=false")
  step "fetching $* from Debian bullseye ($mirror)"
  apt-get "${opts[@]}" -q update >"$cache/apt-update.log" 2>&1 ||
    fail "apt-get update of bullseye from $mirror failed (see $cache/apt-update.log).
If bullseye has left the mirror, run again with DEBIAN_MIRROR=http://archive.debian.org/debian"
  (cd "$cache/debs" && apt-get "${opts[@]}" -q download "$@" >"$cache/apt-download.log" 2>&1) ||
    fail "apt-get download from $mirror failed (see $cache/apt-download.log).
If bullseye has left the mirror, run again with DEBIAN_MIRROR=http://archive.debian.org/debian"
  rm -rf "$cache/bullseye"
  for deb in "$cache"/debs/*.deb; do dpkg-deb -x "$deb" "$cache/bullseye"; done
}

if [ "${CARTABLE_AGENT_STUBS_ONLY:-}" = 1 ]; then
  if [ ! -f "$dx_jar" ]; then
    fetch_bullseye dalvik-exchange
    cp -L "$cache/bullseye/usr/share/java/com.android.dx.jar" "$dx_jar" || fail "dalvik-exchange does not hold dx where expected (see $cache/bullseye)"
  fi
elif [ ! -f "$dx_jar" ] || [ ! -f "$android_jar" ]; then
  fetch_bullseye dalvik-exchange libandroid-23-java
  cp -L "$cache/bullseye/usr/share/java/com.android.dx.jar" "$dx_jar" &&
    cp -L "$cache/bullseye/usr/share/java/com.android.android-23.jar" "$android_jar" ||
    fail "the bullseye packages do not hold dx and android.jar where expected (see $cache/bullseye)"
fi

# --- Compile, dex, package ------------------------------------------------------------------
rm -rf "$work"
mkdir -p "$work/classes" "$work/stub-classes" "$work/classes-from-stubs" "$work/dex" "$work/gen" "$out"
aapt package -f -m -J "$work/gen" -M "$here/AndroidManifest.xml" -S "$here/res" -I "$framework_res"
sources=$(find "$here/core/src" "$here/app/src" "$work/gen" -name '*.java' | sort)

# Java 8 class files: what dx reads; the agent uses no lambdas (dx cannot translate them).
step "compiling against the framework stubs (stubs/src)"
# shellcheck disable=SC2046
javac -nowarn --release 8 -d "$work/stub-classes" $(find "$here/stubs/src" -name '*.java')
# shellcheck disable=SC2086
javac -nowarn --release 8 -encoding UTF-8 -cp "$work/stub-classes:$json_jar" -d "$work/classes-from-stubs" $sources
if [ "${CARTABLE_AGENT_STUBS_ONLY:-}" = 1 ]; then
  cp -r "$work/classes-from-stubs/." "$work/classes/"
else
  step "compiling against android.jar (API 23), and comparing"
  # shellcheck disable=SC2086
  javac -nowarn -Xlint:-options -source 8 -target 8 -encoding UTF-8 -bootclasspath "$android_jar" -cp "$json_jar" \
    -d "$work/classes" $sources
  # Constants are inlined and signatures must match exactly: a wrong stub shows as a different class file.
  diff -r -q "$work/classes" "$work/classes-from-stubs" >&2 ||
    fail "the agent compiled against the stubs differs from the agent compiled against android.jar.
Regenerate the stubs: npx tsx agent-protocol/android/stubs/generate.ts $android_jar $work/classes"
fi

step "dexing"
# Only the agent's own classes: android.* and org.json are the device's.
java -jar "$dx_jar" --dex --min-sdk-version=24 --output="$work/dex/classes.dex" "$work/classes"

step "packaging, aligning and signing"
dev_flag=()
[ "${CARTABLE_AGENT_DEV:-}" = 1 ] && dev_flag=(--debug-mode)
aapt package -f "${dev_flag[@]}" -M "$here/AndroidManifest.xml" -S "$here/res" -I "$framework_res" -F "$work/unsigned.apk"
(cd "$work/dex" && aapt add "$work/unsigned.apk" classes.dex >/dev/null)
zipalign -f -p 4 "$work/unsigned.apk" "$work/aligned.apk"

keystore=${CARTABLE_AGENT_KEYSTORE:-${XDG_CONFIG_HOME:-$HOME/.config}/cartable/agent-dev.p12}
alias=${CARTABLE_AGENT_KEY_ALIAS:-agent}
if [ -n "${CARTABLE_AGENT_KEYSTORE:-}" ]; then
  [ -f "$keystore" ] || fail "CARTABLE_AGENT_KEYSTORE=$keystore does not exist"
  [ -n "${CARTABLE_AGENT_KEYSTORE_PASS:-}" ] || fail "set CARTABLE_AGENT_KEYSTORE_PASS to the password of $keystore"
  pass=$CARTABLE_AGENT_KEYSTORE_PASS
else
  pass=cartable-dev
  if [ ! -f "$keystore" ]; then
    step "generating a development signing key in $keystore (not for tablets in service)"
    mkdir -p "$(dirname "$keystore")"
    keytool -genkeypair -keystore "$keystore" -storetype PKCS12 -storepass "$pass" -alias "$alias" \
      -keyalg EC -groupname secp256r1 -sigalg SHA256withECDSA -validity 10000 \
      -dname "CN=Cartable agent (development key), O=Cartable" >/dev/null 2>&1
  fi
fi
apk="$out/cartable-agent.apk"
apksigner sign --ks "$keystore" --ks-pass "pass:$pass" --ks-key-alias "$alias" --min-sdk-version 24 \
  --out "$apk" "$work/aligned.apk"
rm -f "$apk.idsig"

# --- Checks ---------------------------------------------------------------------------------
step "checking the APK"
bash "$here/check-apk.sh" "$apk"
# base64url of the signing certificate's SHA-256, as Android's provisioning compares it (protocol §6).
digest=$(apksigner verify --print-certs "$apk" | grep -m1 'SHA-256 digest' | awk '{print $NF}')
# shellcheck disable=SC2059
checksum=$(printf "$(sed 's/../\\x&/g' <<<"$digest")" | base64 -w0 | tr '+/' '-_' | tr -d '=')
echo "$checksum" >"$out/cartable-agent.apk.checksum"
cat <<EOF

Built $apk ($(stat -c %s "$apk") bytes)
Provisioning QR (organisation settings, "agent package"):
  component name:     fr.cartable.agent/.AdminReceiver
  signature checksum: $checksum
EOF
