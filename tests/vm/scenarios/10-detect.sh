#!/bin/sh
# Scenario detect: mtp-detect reads the device info and lists the writable storage.
# timeout: 120
. /scenarios/lib.sh
start_daemon
run mtp-detect
out_has "Cannot open iconv" && fail "libmtp cannot open its iconv converters (initramfs)"
out_has "^Device info:" || fail "no 'Device info' section"
out_has "^ +Manufacturer: .+" || fail "no manufacturer"
out_has "^ +Model: .+" || fail "no model"
out_has "^Storage Devices:" || fail "no 'Storage Devices' section (GetStorageIDs/GetStorageInfo failed?)"
out_has "^ +StorageID: 0x[0-9a-f]{8}" || fail "no storage listed"
out_has "^ +StorageDescription: $STORAGE_DESC\$" || fail "no storage described as '$STORAGE_DESC'"
pass
