//! An owned `TF_Tensor`: allocated by TensorFlow (so it is aligned as its kernels want and
//! fed without a copy), filled from and read into host vectors.

use super::ffi::{self, Api, TfTensor};
use crate::graph::builder::DType;
use anyhow::{bail, Result};

pub struct Tensor {
    api: &'static Api,
    pub raw: *mut TfTensor,
}

/// The C API's `TF_DataType` of a builder type.
pub fn tf_type(dtype: DType) -> i32 {
    match dtype {
        DType::F32 => ffi::TF_FLOAT,
        DType::BF16 => ffi::TF_BFLOAT16,
        DType::F16 => ffi::TF_HALF,
        DType::I32 => ffi::TF_INT32,
        DType::I64 => ffi::TF_INT64,
        DType::Bool => ffi::TF_BOOL,
    }
}

/// Plain element types a tensor is filled from or read into.
pub trait Element: Copy {
    const TYPE: i32;
}
impl Element for f32 {
    const TYPE: i32 = ffi::TF_FLOAT;
}
impl Element for i32 {
    const TYPE: i32 = ffi::TF_INT32;
}
impl Element for i64 {
    const TYPE: i32 = ffi::TF_INT64;
}

impl Tensor {
    /// A tensor of `dtype` and `shape` holding `bytes` (row-major, native endian).
    pub fn from_bytes(api: &'static Api, dtype: i32, shape: &[i64], bytes: &[u8]) -> Result<Self> {
        let elements: i64 = shape.iter().product();
        let width = match dtype {
            ffi::TF_FLOAT | ffi::TF_INT32 => 4,
            ffi::TF_INT64 => 8,
            ffi::TF_BFLOAT16 | ffi::TF_HALF => 2,
            ffi::TF_BOOL => 1,
            other => bail!("no host tensors of TF_DataType {other}"),
        };
        if bytes.len() != elements as usize * width {
            bail!(
                "{} bytes for a tensor of shape {shape:?} and {width}-byte elements",
                bytes.len()
            );
        }
        // SAFETY: the tensor is allocated with exactly bytes.len() bytes, then filled.
        unsafe {
            let raw =
                (api.TF_AllocateTensor)(dtype, shape.as_ptr(), shape.len() as i32, bytes.len());
            if raw.is_null() {
                bail!("TensorFlow could not allocate a tensor of shape {shape:?}");
            }
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                (api.TF_TensorData)(raw) as *mut u8,
                bytes.len(),
            );
            Ok(Tensor { api, raw })
        }
    }

    pub fn from_slice<T: Element>(api: &'static Api, shape: &[i64], values: &[T]) -> Result<Self> {
        // SAFETY: a slice of plain numbers viewed as its bytes.
        let bytes = unsafe {
            std::slice::from_raw_parts(values.as_ptr() as *const u8, std::mem::size_of_val(values))
        };
        Self::from_bytes(api, T::TYPE, shape, bytes)
    }

    /// Takes ownership of a tensor TensorFlow returned.
    ///
    /// # Safety
    /// `raw` is a live tensor nobody else deletes.
    pub unsafe fn from_raw(api: &'static Api, raw: *mut TfTensor) -> Self {
        Tensor { api, raw }
    }

    pub fn shape(&self) -> Vec<i64> {
        // SAFETY: raw is live.
        unsafe {
            (0..(self.api.TF_NumDims)(self.raw))
                .map(|d| (self.api.TF_Dim)(self.raw, d))
                .collect()
        }
    }

    pub fn dtype(&self) -> i32 {
        // SAFETY: raw is live.
        unsafe { (self.api.TF_TensorType)(self.raw) }
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the data of a live tensor, TF_TensorByteSize bytes long.
        unsafe {
            let data = (self.api.TF_TensorData)(self.raw) as *const u8;
            let len = (self.api.TF_TensorByteSize)(self.raw);
            if len == 0 {
                return &[];
            }
            std::slice::from_raw_parts(data, len)
        }
    }

    /// The values as f32 (f32 tensors only; bf16/f16 are widened).
    pub fn to_f32(&self) -> Result<Vec<f32>> {
        let bytes = self.bytes();
        let halves = || {
            bytes
                .chunks_exact(2)
                .map(|c| u16::from_ne_bytes([c[0], c[1]]))
        };
        Ok(match self.dtype() {
            ffi::TF_FLOAT => bytes
                .chunks_exact(4)
                .map(|c| f32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            ffi::TF_BFLOAT16 => halves().map(|h| f32::from_bits((h as u32) << 16)).collect(),
            ffi::TF_HALF => halves().map(f16_to_f32).collect(),
            other => bail!("a tensor of TF_DataType {other} is not a float tensor"),
        })
    }
}

/// IEEE half to single precision.
fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as i32;
    let frac = (h & 0x3ff) as u32;
    let magnitude = match exp {
        0 => (frac as f32) * 2f32.powi(-24),
        31 if frac == 0 => f32::INFINITY,
        31 => f32::NAN,
        _ => f32::from_bits((((exp - 15 + 127) as u32) << 23) | (frac << 13)),
    };
    f32::from_bits(sign | magnitude.to_bits())
}

impl Drop for Tensor {
    fn drop(&mut self) {
        // SAFETY: owned, deleted once.
        unsafe { (self.api.TF_DeleteTensor)(self.raw) }
    }
}
