//! A TensorFlow session over a built graph, configured by a ConfigProto written by hand, and
//! one call of it.

use super::ffi::{Api, Status, TfOperation, TfOutput, TfSession, TfTensor};
use super::graph::Graph;
use super::tensor::Tensor;
use anyhow::Result;

/// The threads a session runs with: `intra_op_parallelism_threads` and
/// `inter_op_parallelism_threads`, 0 meaning TensorFlow's default (one per CPU).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Threads {
    pub intra: u64,
    pub inter: u64,
}

/// `tensorflow.ConfigProto` in protobuf's wire format: field 2 (intra_op_parallelism_threads)
/// and field 5 (inter_op_parallelism_threads), varints. Our own few bytes rather than a
/// protobuf dependency for two integers.
pub fn config_proto(threads: Threads) -> Vec<u8> {
    let mut out = Vec::new();
    for (field, value) in [(2u64, threads.intra), (5, threads.inter)] {
        if value == 0 {
            continue;
        }
        varint(&mut out, field << 3);
        varint(&mut out, value);
    }
    out
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// An owned `TF_Session`; it must not outlive its graph.
pub struct Session {
    api: &'static Api,
    raw: *mut TfSession,
}

impl Session {
    pub fn new(graph: &Graph, threads: Threads) -> Result<Self> {
        let api = graph.api;
        let status = Status::new(api);
        let proto = config_proto(threads);
        // SAFETY: the options are made, configured and deleted here; the session copies them.
        unsafe {
            let options = (api.TF_NewSessionOptions)();
            (api.TF_SetConfig)(options, proto.as_ptr().cast(), proto.len(), status.raw);
            if status
                .check(|| "TensorFlow session options".into())
                .is_err()
            {
                (api.TF_DeleteSessionOptions)(options);
                status.check(|| "TensorFlow session options".into())?;
            }
            let raw = (api.TF_NewSession)(graph.raw, options, status.raw);
            (api.TF_DeleteSessionOptions)(options);
            status.check(|| "TensorFlow session".into())?;
            Ok(Session { api, raw })
        }
    }

    /// One call: feeds `inputs`, runs `targets`, returns `fetches`' values.
    pub fn run(
        &self,
        inputs: &[(TfOutput, &Tensor)],
        fetches: &[TfOutput],
        targets: &[*mut TfOperation],
    ) -> Result<Vec<Tensor>> {
        let (feed, values): (Vec<TfOutput>, Vec<*mut TfTensor>) =
            inputs.iter().map(|(o, t)| (*o, t.raw)).unzip();
        let mut outputs: Vec<*mut TfTensor> = vec![std::ptr::null_mut(); fetches.len()];
        let targets: Vec<*const TfOperation> = targets.iter().map(|&t| t as *const _).collect();
        let status = Status::new(self.api);
        // SAFETY: every array has the length passed with it; the inputs stay owned by the
        // caller, the outputs become ours.
        unsafe {
            (self.api.TF_SessionRun)(
                self.raw,
                std::ptr::null(),
                feed.as_ptr(),
                values.as_ptr(),
                feed.len() as i32,
                fetches.as_ptr(),
                outputs.as_mut_ptr(),
                fetches.len() as i32,
                targets.as_ptr(),
                targets.len() as i32,
                std::ptr::null_mut(),
                status.raw,
            );
            let tensors: Vec<Tensor> = outputs
                .into_iter()
                .filter(|t| !t.is_null())
                .map(|t| Tensor::from_raw(self.api, t))
                .collect();
            status.check(|| "TensorFlow session run".into())?;
            Ok(tensors)
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let status = Status::new(self.api);
        // SAFETY: closed and deleted once.
        unsafe {
            (self.api.TF_CloseSession)(self.raw, status.raw);
            (self.api.TF_DeleteSession)(self.raw, status.raw);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_proto_is_fields_2_and_5_as_varints() {
        let proto = config_proto(Threads {
            intra: 2,
            inter: 300,
        });
        // Field 2 varint (tag 0x10) = 2; field 5 varint (tag 0x28) = 300 = 0xac 0x02.
        assert_eq!(proto, vec![0x10, 2, 0x28, 0xac, 0x02]);
        assert!(config_proto(Threads::default()).is_empty());
    }
}
