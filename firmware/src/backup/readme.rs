//! `README.txt`: how to use the Backup storage, in plain words, with the exact commands.
//!
//! The commands are libmtp's example tools (`mtp-files`, `mtp-getfile`, `mtp-sendfile`,
//! `mtp-newfolder`, `mtp-delfile`, `mtp-detect`) and a FUSE mount (`jmtpfs`) with `cp`.
//! `mtp-sendfile LOCAL /FOLDER` names the object after LOCAL's file name and uses the
//! remote argument only to find the parent folder (a path starting with `/`); that folder
//! decides the storage, which is why requests go into `/requests`.
#![warn(clippy::disallowed_methods)]

/// The text of `README.txt` in the Backup storage's root.
pub const README_TEXT: &str = r#"BACKUP STORAGE - how to back up and restore this device
========================================================

This storage is not for ordinary files. You send it a small request file and the
device backs itself up into a new folder here, or restores itself from a folder here.

What is here
------------
  README.txt    this text
  owners.toml   every application ("data owner") that takes part in backup: its SID,
                name, kinds of data (active, passive, proxy, dbms, system, public),
                whether it supports incremental backup, and its status
  status.toml   what the device is doing now: state (idle, capturing, verifying,
                restoring, done, failed), the session folder, progress in bytes and
                owners, and the last error in plain words
  requests/     put backup.request or restore.request here
  <session>/    one folder per backup, named <UTC yyyymmddThhmmssZ>[-label]

If you see only README.txt and status.toml here, and status.toml says
access = "consent required", this device shares its backups only with a host its user
allows: on the device, run  mtpbur ctl allow --for 10m  (or use the button or menu
entry the maker provides), then look again.

The commands below are the libmtp tools (package libmtp-examples or mtp-tools) and,
for a file manager, a FUSE mount made with jmtpfs.

Beware: the libmtp tools exit with status 0 even when they fail. Read what they print
(an "Error" line, no "New folder created") and check status.toml after each step.

Look around
-----------
  mtp-files                 lists every file with its File ID, name, size, Parent ID
                            and Storage ID (folders are not listed: see mtp-folders)
  mtp-folders               lists the folders with their IDs
  mtp-getfile ID status.toml    copies the file with that ID (status.toml here) to the PC
  mtp-detect                shows the storages; the one described "Backup" is this one.
                            It prints storage IDs in hex (0x00030001); mtp-newfolder
                            needs them in decimal: printf '%d' 0x00030001 gives 196609

Back up
-------
1. Write a file named backup.request on the PC, for example:

     scope = "full"             # "full" or "partial"
     type = "base"              # "base" or "incremental"
     # owners = ["0x0ab7e58c"]  # partial only: SIDs from owners.toml
     # drives = ["c"]           # default: every drive
     # compress = true          # default: true
     # label = "before-update"  # optional: letters, digits, . _ - (at most 32)
     # snapshots = "20261123T210000Z"   # incremental only: the earlier backup's folder

2. Send it into the requests folder:

     mtp-sendfile backup.request /requests

   The device accepts it at once, or refuses it; the reason is then in status.toml.
   Only one backup or restore runs at a time.

3. Watch status.toml (find its ID with mtp-files, then mtp-getfile ID status.toml)
   until state = "done". The new folder holds <SID>/<drive>/<kind>.unit files (one
   per kind of data: active, passive, dbms, public, ...) and manifest.toml, which
   is written last and lists every unit with its size and SHA-256.

4. Copy every file of the folder to the PC with mtp-getfile ID NAME (file IDs from
   mtp-files, the folders from mtp-folders), or many in one run (one device open for
   all):

     mtp-connect --getfile ID1,NAME1 --getfile ID2,NAME2 ...

   then delete the folder from the device if you like:

     mtp-delfile -n ID

   Faster: start copying while the backup runs. Files appear in the folder either
   complete or, for big uncompressed units (photos, videos), while still being
   written: those are listed with their final size and mtp-getfile reads them as
   they are written. Copy each file as soon as it is listed, until you have copied
   manifest.toml (it comes last), then check the SHA-256s.

An incremental backup stores only what changed since an earlier one: put that earlier
backup's folder name in snapshots. The folder must be on the device, either still
there or uploaded again (see below); only its manifest.toml and its *-snapshot.unit
files are needed.

Restore
-------
1. If the backup is no longer on the device, upload it into a new folder here with the
   same layout. Create the folders (PARENT is 0 for the top of the storage, or the ID
   mtp-newfolder printed for the parent folder, or one from mtp-folders; STORAGE is the
   Backup storage's ID in decimal, see "Look around"):

     mtp-newfolder 20261123T210000Z 0 STORAGE
     mtp-newfolder 0ab7e58c FOLDER_ID STORAGE
     mtp-newfolder c FOLDER_ID STORAGE

   then send each unit file into its folder, and manifest.toml LAST (a folder with a
   manifest looks complete; a restore of a folder whose units are not all there yet
   is refused anyway, but only after every byte was checked):

     mtp-sendfile passive-base.unit /20261123T210000Z/0ab7e58c/c
     mtp-sendfile manifest.toml /20261123T210000Z

2. Write restore.request on the PC:

     source = "20261123T210000Z"          # the folder with the base backup
     # increments = ["20261124T210000Z"]  # later incremental backups, oldest first
     scope = "full"                       # or "partial" with owners = ["0x..."]

3. Send it:

     mtp-sendfile restore.request /requests

   Nothing on the device changes unless every file of every folder verifies. Then
   each owner is restored; the outcome of each one (and whether the device needs a
   reboot) is written to restore-result.toml in the last folder of the chain.

With a file manager (FUSE mount)
--------------------------------
  mkdir -p ~/device && jmtpfs ~/device
  cp backup.request ~/device/Backup/requests/
  cat ~/device/Backup/status.toml
  cp -r ~/device/Backup/20261124T210000Z ~/backups/           # copy a backup out
  cp -r ~/backups/20261124T210000Z ~/device/Backup/           # upload one again
  cp restore.request ~/device/Backup/requests/
  fusermount -u ~/device
"#;

/// Every command the text explains (checked by the tests).
pub const COMMANDS: &[&str] = &[
    "mtp-files",
    "mtp-folders",
    "mtp-getfile",
    "mtp-connect",
    "mtp-sendfile",
    "mtp-newfolder",
    "mtp-delfile",
    "mtp-detect",
    "jmtpfs",
    "cp -r",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readme_mentions_every_command() {
        for command in COMMANDS {
            assert!(README_TEXT.contains(command), "README.txt lacks {command}");
        }
    }

    /// The three mistakes the first README made: a hex storage ID for mtp-newfolder
    /// (it reads it with atol(), as 0), folder IDs from mtp-files (which skips folders),
    /// the manifest uploaded first (a half-uploaded set looked complete).
    #[test]
    fn uploads_take_decimal_storage_ids_and_send_the_manifest_last() {
        let restore = &README_TEXT[README_TEXT.find("Restore\n-------").unwrap()..];
        let unit = restore.find("mtp-sendfile passive-base.unit").unwrap();
        let manifest = restore.find("mtp-sendfile manifest.toml").unwrap();
        assert!(unit < manifest, "the manifest goes last");
        assert!(README_TEXT.contains("printf '%d' 0x00030001 gives 196609"));
        assert_eq!(0x0003_0001.to_string(), "196609");
        assert!(README_TEXT.contains("mtp-folders               lists the folders"));
        assert!(README_TEXT.contains("exit with status 0 even when they fail"));
    }

    #[test]
    fn requests_are_sent_into_the_requests_folder() {
        assert!(README_TEXT.contains("mtp-sendfile backup.request /requests"));
        assert!(README_TEXT.contains("mtp-sendfile restore.request /requests"));
    }

    #[test]
    fn readme_names_every_file_and_state() {
        for word in [
            "owners.toml",
            "status.toml",
            "requests/",
            "manifest.toml",
            "restore-result.toml",
            "idle",
            "capturing",
            "verifying",
            "restoring",
            "done",
            "failed",
        ] {
            assert!(README_TEXT.contains(word), "README.txt lacks {word}");
        }
    }

    /// Returns the indented example between two headings of the text, unindented.
    fn example(after: &str, before: &str) -> String {
        let start = README_TEXT.find(after).map(|i| i + after.len()).unwrap();
        let end = start + README_TEXT[start..].find(before).unwrap();
        let block = &README_TEXT[start..end];
        block
            .lines()
            .skip(1)
            .map(|l| format!("{}\n", l.trim()))
            .collect()
    }

    #[test]
    fn readme_examples_are_valid_requests() {
        let backup = example("1. Write a file named backup.request", "2. Send it");
        let spec = super::super::request::parse_backup_request(backup.as_bytes());
        assert!(spec.is_ok(), "{backup}: {spec:?}");
        let restore = example("2. Write restore.request", "3. Send it");
        let spec = super::super::request::parse_restore_request(restore.as_bytes());
        assert!(spec.is_ok(), "{restore}: {spec:?}");
    }

    #[test]
    fn readme_is_plain_ascii_with_short_lines() {
        assert!(README_TEXT.is_ascii());
        for line in README_TEXT.lines() {
            assert!(line.len() <= 90, "long line: {line}");
        }
    }
}
