//! Tests of the files provider against real temporary directories.

mod edit;
mod lookup;
mod manage;
mod races;
mod read;
mod safety;
mod upload;

use std::fs;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use tempfile::TempDir;

use super::{FilesProvider, StorageConfig};
use crate::codec::dataset::ObjectInfo;
use crate::codec::{EventCode, ObjectFormat, ResponseCode};
use crate::provider::{
    Chunk, DataProvider, ObjectHandle, ParentFilter, Placement, ProviderId, ProviderResult,
    StorageId,
};

/// The writable storage.
const RW: StorageId = StorageId(0x0001_0001);
/// The read-only storage.
const RO: StorageId = StorageId(0x0002_0001);

/// A provider over `<tmp>/rw` (writable) and `<tmp>/ro` (read-only); `<tmp>/outside`
/// lies outside both.
struct Fx {
    tmp: TempDir,
    p: FilesProvider,
}

fn fixture() -> Fx {
    let tmp = tempfile::tempdir().unwrap();
    for d in ["rw", "ro", "outside"] {
        fs::create_dir(tmp.path().join(d)).unwrap();
    }
    let p = provider(tmp.path());
    Fx { tmp, p }
}

fn provider(base: &Path) -> FilesProvider {
    let mut p = FilesProvider::new(vec![
        StorageConfig {
            id: RW,
            description: "Internal".into(),
            root: base.join("rw"),
            writable: true,
            private: false,
        },
        StorageConfig {
            id: RO,
            description: "Archive".into(),
            root: base.join("ro"),
            writable: false,
            private: false,
        },
    ])
    .unwrap();
    p.attach(ProviderId(1));
    p
}

fn info(name: &str, format: ObjectFormat, size: u32) -> ObjectInfo {
    ObjectInfo {
        format: format.to_u16(),
        compressed_size: size,
        filename: name.into(),
        ..ObjectInfo::default()
    }
}

fn at(storage: StorageId, parent: Option<ObjectHandle>) -> Placement {
    Placement { storage, parent }
}

impl Fx {
    fn rw(&self) -> PathBuf {
        self.tmp.path().join("rw")
    }

    fn ro(&self) -> PathBuf {
        self.tmp.path().join("ro")
    }

    fn outside(&self) -> PathBuf {
        self.tmp.path().join("outside")
    }

    /// Finds `path` ("a/b.txt") in `storage` by listing folder by folder.
    fn find(&mut self, storage: StorageId, path: &str) -> ObjectHandle {
        let mut parent = ParentFilter::Root;
        let mut found = None;
        for part in path.split('/') {
            let hs = self.p.object_handles(storage, None, parent).unwrap();
            let h = hs
                .into_iter()
                .find(|h| self.p.object(*h).unwrap().name == part)
                .unwrap_or_else(|| panic!("{part} not listed"));
            parent = ParentFilter::Children(h);
            found = Some(h);
        }
        found.unwrap()
    }

    fn names(&mut self, storage: StorageId, parent: ParentFilter) -> Vec<String> {
        let hs = self.p.object_handles(storage, None, parent).unwrap();
        let mut v: Vec<String> = hs.iter().map(|h| self.p.object(*h).unwrap().name).collect();
        v.sort();
        v
    }

    /// Announces and sends a file in one go.
    fn upload(
        &mut self,
        storage: StorageId,
        parent: Option<ObjectHandle>,
        name: &str,
        data: &[u8],
    ) -> ProviderResult<ObjectHandle> {
        let size = data.len() as u64;
        let i = info(name, ObjectFormat::Text, size as u32);
        let h = self
            .p
            .send_object_info(at(storage, parent), &i, Some(size))?;
        let mut sink = self.p.send_object(h)?;
        sink.write(Bytes::copy_from_slice(data))?;
        sink.finish(size)?;
        Ok(h)
    }

    fn mkdir(&mut self, parent: Option<ObjectHandle>, name: &str) -> ObjectHandle {
        let i = info(name, ObjectFormat::Association, 0);
        self.p
            .send_object_info(at(RW, parent), &i, Some(0))
            .unwrap()
    }

    fn read(&mut self, h: ObjectHandle, offset: u64, max: u64, chunk: usize) -> Vec<u8> {
        let mut src = self.p.open_read(h, offset, max).unwrap();
        let mut out = Vec::new();
        while (out.len() as u64) < src.len() {
            match src.read(chunk).unwrap() {
                Chunk::Data(b) => {
                    assert!(b.len() <= chunk);
                    out.extend_from_slice(&b);
                }
                Chunk::NotReady => panic!("file source not ready"),
            }
        }
        out
    }

    fn events(&mut self) -> Vec<(EventCode, u32)> {
        std::iter::from_fn(|| self.p.poll_event())
            .map(|e| (e.code, e.params[0].unwrap_or(0)))
            .collect()
    }
}

/// Reads a file written through the kernel back from its start.
fn reread(mut f: fs::File) -> Vec<u8> {
    use std::io::{Read, Seek};
    f.rewind().unwrap();
    let mut v = Vec::new();
    f.read_to_end(&mut v).unwrap();
    v
}

/// Returns every path below `dir`, sorted (for "nothing else was written" checks).
fn tree_of(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if fs::symlink_metadata(&p).unwrap().is_dir() {
                stack.push(p.clone());
            }
            out.push(p.strip_prefix(dir).unwrap().to_path_buf());
        }
    }
    out.sort();
    out
}

#[test]
fn capabilities_declare_operations_formats_rename_and_events() {
    let fx = fixture();
    let caps = fx.p.capabilities();
    assert_eq!(caps.operations.len(), 13);
    assert!(caps.capture_formats.contains(&ObjectFormat::Undefined));
    assert!(caps.playback_formats.contains(&ObjectFormat::Association));
    assert!(caps.playback_formats.contains(&ObjectFormat::ExifJpeg));
    assert_eq!(
        caps.writable_props,
        vec![crate::codec::ObjectPropCode::ObjectFileName]
    );
    assert!(caps.events.contains(&EventCode::StoreFull));
    assert_eq!(fx.p.storage_ids(), vec![RW, RO]);
    let _ = ResponseCode::Ok;
}
