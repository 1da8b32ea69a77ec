#!/usr/bin/env bash
# Checks a built agent APK with Debian's tools: signature (v2/v3) and alignment, the manifest
# Android's provisioning relies on, and that only the agent's own code is in the dex.
#
#   bash agent-protocol/android/check-apk.sh dist/agent/cartable-agent.apk
set -euo pipefail
apk=${1:?usage: check-apk.sh APK}
fail() {
  printf 'check-apk: FAILED: %s\n' "$*" >&2
  exit 1
}

verify=$(apksigner verify --verbose --min-sdk-version 24 "$apk") || fail "apksigner verify"
grep -q 'Verified using v2 scheme (APK Signature Scheme v2): true' <<<"$verify" || fail "no v2 signature"
zipalign -c -p 4 "$apk" || fail "not aligned (zipalign -c -p 4)"

badging=$(aapt dump badging "$apk")
grep -q "^package: name='fr.cartable.agent'" <<<"$badging" || fail "package is not fr.cartable.agent"
grep -q "^sdkVersion:'24'" <<<"$badging" || fail "minSdkVersion is not 24"
grep -q "provides-component:'device-admin'" <<<"$badging" || fail "no device-admin component"
manifest=$(aapt dump xmltree "$apk" AndroidManifest.xml)
for needed in .AdminReceiver android.app.action.GET_PROVISIONING_MODE \
  android.app.action.ADMIN_POLICY_COMPLIANCE android.intent.action.LOCKED_BOOT_COMPLETED; do
  grep -q "\"$needed\"" <<<"$manifest" || fail "the manifest lacks $needed"
done

dex=$(dexdump -d "$apk" 2>/dev/null) || fail "dexdump cannot read the dex"
classes=$(grep -oE "Class descriptor *: 'L[^']+;'" <<<"$dex" | sed -E "s/.*'L(.*);'/\1/")
[ -n "$classes" ] || fail "no class in the dex"
if grep -vE '^fr/cartable/agent/' <<<"$classes"; then
  fail "the dex holds classes that are not the agent's (the device provides android.* and org.json)"
fi
grep -qE 'invoke-(custom|polymorphic)' <<<"$dex" && fail "the dex uses invoke-custom/polymorphic, which Android 7 cannot run"
echo "APK checks passed: $(wc -l <<<"$classes") classes, signature v2/v3, aligned, device-admin component"
