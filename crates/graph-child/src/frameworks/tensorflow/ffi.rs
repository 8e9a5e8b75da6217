//! The few functions of TensorFlow's C API (`tensorflow/c/c_api.h`, TF 2.21) this backend
//! calls, loaded at run time with `libloading` from `libtensorflow_cc.so.2`.
//!
//! Why our own FFI and not the `tensorflow` crate: that crate is dormant (last release 2023,
//! bindings of TF 2.13), pins an old protobuf, keeps its ConfigProto types private and, with
//! runtime linking, only looks for a file named exactly `libtensorflow.so` on
//! `LD_LIBRARY_PATH` and a few folders; the PyPI wheel ships `libtensorflow_cc.so.2`.
//! Loading by path with `libloading` also means building never needs TensorFlow.

use anyhow::{anyhow, Context, Result};
use std::ffi::{c_char, c_int, c_uchar, c_void, CStr};
use std::path::Path;
use std::sync::OnceLock;

/// Opaque C types.
#[repr(C)]
pub struct TfStatus([u8; 0]);
#[repr(C)]
pub struct TfGraph([u8; 0]);
#[repr(C)]
pub struct TfOperation([u8; 0]);
#[repr(C)]
pub struct TfOperationDescription([u8; 0]);
#[repr(C)]
pub struct TfTensor([u8; 0]);
#[repr(C)]
pub struct TfSession([u8; 0]);
#[repr(C)]
pub struct TfSessionOptions([u8; 0]);
#[repr(C)]
pub struct TfFunction([u8; 0]);
/// `TF_Buffer`: bytes TensorFlow owns (a serialized GraphDef); read through its fields.
#[repr(C)]
pub struct TfBuffer {
    pub data: *const c_void,
    pub length: usize,
    pub data_deallocator: Option<unsafe extern "C" fn(*mut c_void, usize)>,
}
#[repr(C)]
pub struct TfImportGraphDefOptions([u8; 0]);
// The eager C API (`tensorflow/c/eager/c_api.h`): TensorFlow's function runtime, what
// Python's `tf.function` calls.
#[repr(C)]
pub struct TfeContextOptions([u8; 0]);
#[repr(C)]
pub struct TfeContext([u8; 0]);
#[repr(C)]
pub struct TfeOp([u8; 0]);
#[repr(C)]
pub struct TfeTensorHandle([u8; 0]);

/// `TF_Input`: one input of an operation.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct TfInput {
    pub oper: *mut TfOperation,
    pub index: c_int,
}

/// `TF_Output`: one output of an operation.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TfOutput {
    pub oper: *mut TfOperation,
    pub index: c_int,
}

// `TF_DataType` values (tf_datatype.h).
pub const TF_FLOAT: c_int = 1;
pub const TF_INT32: c_int = 3;
pub const TF_INT64: c_int = 9;
pub const TF_BOOL: c_int = 10;
pub const TF_BFLOAT16: c_int = 14;
pub const TF_HALF: c_int = 19;
pub const TF_RESOURCE: c_int = 20;

macro_rules! api {
    ($($name:ident: fn($($arg:ty),*) $(-> $ret:ty)?;)*) => {
        /// The C API's entry points, resolved once from the loaded library.
        #[allow(non_snake_case)]
        pub struct Api {
            $(pub $name: unsafe extern "C" fn($($arg),*) $(-> $ret)?,)*
            _library: libloading::Library,
        }

        impl Api {
            fn load(path: &Path) -> Result<Api> {
                // SAFETY: loading TensorFlow runs its static initialisers, which register
                // kernels and ops and have no preconditions.
                let library = unsafe { libloading::Library::new(path) }
                    .with_context(|| format!("cannot load {}", path.display()))?;
                // SAFETY: each symbol is declared with its c_api.h signature.
                unsafe {
                    Ok(Api {
                        $($name: *library
                            .get(concat!(stringify!($name), "\0").as_bytes())
                            .with_context(|| format!("{} lacks {}", path.display(), stringify!($name)))?,)*
                        _library: library,
                    })
                }
            }
        }
    };
}

api! {
    TF_Version: fn() -> *const c_char;
    TF_NewStatus: fn() -> *mut TfStatus;
    TF_DeleteStatus: fn(*mut TfStatus);
    TF_GetCode: fn(*const TfStatus) -> c_int;
    TF_Message: fn(*const TfStatus) -> *const c_char;
    TF_NewGraph: fn() -> *mut TfGraph;
    TF_DeleteGraph: fn(*mut TfGraph);
    TF_NewOperation: fn(*mut TfGraph, *const c_char, *const c_char) -> *mut TfOperationDescription;
    TF_AddInput: fn(*mut TfOperationDescription, TfOutput);
    TF_AddInputList: fn(*mut TfOperationDescription, *const TfOutput, c_int);
    TF_AddControlInput: fn(*mut TfOperationDescription, *mut TfOperation);
    TF_SetAttrType: fn(*mut TfOperationDescription, *const c_char, c_int);
    TF_SetAttrTypeList: fn(*mut TfOperationDescription, *const c_char, *const c_int, c_int);
    TF_SetAttrShape: fn(*mut TfOperationDescription, *const c_char, *const i64, c_int);
    TF_SetAttrInt: fn(*mut TfOperationDescription, *const c_char, i64);
    TF_SetAttrBool: fn(*mut TfOperationDescription, *const c_char, c_uchar);
    TF_SetAttrString: fn(*mut TfOperationDescription, *const c_char, *const c_void, usize);
    TF_SetAttrFuncName: fn(*mut TfOperationDescription, *const c_char, *const c_char, usize);
    TF_SetAttrTensor: fn(*mut TfOperationDescription, *const c_char, *mut TfTensor, *mut TfStatus);
    TF_FinishOperation: fn(*mut TfOperationDescription, *mut TfStatus) -> *mut TfOperation;
    TF_GraphGetTensorNumDims: fn(*mut TfGraph, TfOutput, *mut TfStatus) -> c_int;
    TF_GraphGetTensorShape: fn(*mut TfGraph, TfOutput, *mut i64, c_int, *mut TfStatus);
    TF_OperationOutputType: fn(TfOutput) -> c_int;
    TF_AddGradients: fn(*mut TfGraph, *mut TfOutput, c_int, *mut TfOutput, c_int, *mut TfOutput, *mut TfStatus, *mut TfOutput);
    TF_GraphToFunction: fn(*const TfGraph, *const c_char, c_uchar, c_int, *const *const TfOperation, c_int, *const TfOutput, c_int, *const TfOutput, *const *const c_char, *const c_void, *const c_char, *mut TfStatus) -> *mut TfFunction;
    TF_GraphToFunctionWithControlOutputs: fn(*const TfGraph, *const c_char, c_uchar, c_int, *const *const TfOperation, c_int, *const TfOutput, c_int, *const TfOutput, *const *const c_char, c_int, *const *const TfOperation, *const *const c_char, *const c_void, *const c_char, *mut TfStatus) -> *mut TfFunction;
    TF_GraphNumFunctions: fn(*mut TfGraph) -> c_int;
    TF_GraphGetFunctions: fn(*mut TfGraph, *mut *mut TfFunction, c_int, *mut TfStatus) -> c_int;
    TF_GraphNextOperation: fn(*mut TfGraph, *mut usize) -> *mut TfOperation;
    TF_OperationOpType: fn(*mut TfOperation) -> *const c_char;
    TF_OperationNumOutputs: fn(*mut TfOperation) -> c_int;
    TF_OperationGetNumAttrs: fn(*mut TfOperation) -> c_int;
    TF_OperationGetAttrNameLength: fn(*mut TfOperation, c_int) -> c_int;
    TF_OperationGetAttrName: fn(*mut TfOperation, c_int, *mut c_char, *mut TfStatus);
    TF_OperationGetAttrValueProto: fn(*mut TfOperation, *const c_char, *mut TfBuffer, *mut TfStatus);
    TFE_OpSetAttrValueProto: fn(*const TfeOp, *const c_char, *const c_void, usize, *mut TfStatus);
    TF_OperationNumInputs: fn(*mut TfOperation) -> c_int;
    TF_OperationInput: fn(TfInput) -> TfOutput;
    TF_OperationNumControlInputs: fn(*mut TfOperation) -> c_int;
    TF_OperationGetControlInputs: fn(*mut TfOperation, *mut *mut TfOperation, c_int) -> c_int;
    TFE_NewContextOptions: fn() -> *mut TfeContextOptions;
    TFE_ContextOptionsSetConfig: fn(*mut TfeContextOptions, *const c_void, usize, *mut TfStatus);
    TFE_DeleteContextOptions: fn(*mut TfeContextOptions);
    TFE_NewContext: fn(*const TfeContextOptions, *mut TfStatus) -> *mut TfeContext;
    TFE_DeleteContext: fn(*mut TfeContext);
    TFE_ContextAddFunction: fn(*mut TfeContext, *mut TfFunction, *mut TfStatus);
    TFE_NewOp: fn(*mut TfeContext, *const c_char, *mut TfStatus) -> *mut TfeOp;
    TFE_DeleteOp: fn(*mut TfeOp);
    TFE_OpSetAttrString: fn(*mut TfeOp, *const c_char, *const c_void, usize);
    TFE_OpAddInput: fn(*mut TfeOp, *mut TfeTensorHandle, *mut TfStatus);
    TFE_Execute: fn(*mut TfeOp, *mut *mut TfeTensorHandle, *mut c_int, *mut TfStatus);
    TFE_NewTensorHandle: fn(*const TfTensor, *mut TfStatus) -> *mut TfeTensorHandle;
    TFE_DeleteTensorHandle: fn(*mut TfeTensorHandle);
    TFE_TensorHandleResolve: fn(*mut TfeTensorHandle, *mut TfStatus) -> *mut TfTensor;
    TF_GraphCopyFunction: fn(*mut TfGraph, *const TfFunction, *const TfFunction, *mut TfStatus);
    TF_DeleteFunction: fn(*mut TfFunction);
    TF_NewSessionOptions: fn() -> *mut TfSessionOptions;
    TF_DeleteSessionOptions: fn(*mut TfSessionOptions);
    TF_SetConfig: fn(*mut TfSessionOptions, *const c_void, usize, *mut TfStatus);
    TF_NewSession: fn(*mut TfGraph, *const TfSessionOptions, *mut TfStatus) -> *mut TfSession;
    TF_CloseSession: fn(*mut TfSession, *mut TfStatus);
    TF_DeleteSession: fn(*mut TfSession, *mut TfStatus);
    TF_SessionRun: fn(*mut TfSession, *const TfBuffer, *const TfOutput, *const *mut TfTensor, c_int, *const TfOutput, *mut *mut TfTensor, c_int, *const *const TfOperation, c_int, *mut TfBuffer, *mut TfStatus);
    TF_AllocateTensor: fn(c_int, *const i64, c_int, usize) -> *mut TfTensor;
    TF_DeleteTensor: fn(*mut TfTensor);
    TF_TensorData: fn(*const TfTensor) -> *mut c_void;
    TF_TensorByteSize: fn(*const TfTensor) -> usize;
    TF_NumDims: fn(*const TfTensor) -> c_int;
    TF_Dim: fn(*const TfTensor, c_int) -> i64;
    TF_TensorType: fn(*const TfTensor) -> c_int;
    TF_OperationName: fn(*mut TfOperation) -> *const c_char;
    TF_GraphOperationByName: fn(*mut TfGraph, *const c_char) -> *mut TfOperation;
    TF_NewBuffer: fn() -> *mut TfBuffer;
    TF_NewBufferFromString: fn(*const c_void, usize) -> *mut TfBuffer;
    TF_DeleteBuffer: fn(*mut TfBuffer);
    TF_GraphToGraphDef: fn(*mut TfGraph, *mut TfBuffer, *mut TfStatus);
    TF_NewImportGraphDefOptions: fn() -> *mut TfImportGraphDefOptions;
    TF_DeleteImportGraphDefOptions: fn(*mut TfImportGraphDefOptions);
    TF_GraphImportGraphDef: fn(*mut TfGraph, *const TfBuffer, *const TfImportGraphDefOptions, *mut TfStatus);
}

/// The environment variable naming `libtensorflow_cc.so.2` for an installed binary.
pub const LIBRARY_VAR: &str = "RUN_BENCHMARK_TENSORFLOW";
/// The version `make tensorflow` installs.
pub const VERSION: &str = "2.21.0";

/// Where the library is: `$RUN_BENCHMARK_TENSORFLOW`, else where `make tensorflow` put it in
/// this checkout (the path is baked in at build time).
pub fn library_path() -> std::path::PathBuf {
    match std::env::var_os(LIBRARY_VAR) {
        Some(path) => path.into(),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(format!(
                ".frameworks/tensorflow-{VERSION}/libtensorflow_cc.so.2"
            )),
    }
}

static API: OnceLock<std::result::Result<Api, String>> = OnceLock::new();

/// The loaded C API; loads it on first use. A missing library is one line naming the
/// command that installs it.
pub fn api() -> Result<&'static Api> {
    API.get_or_init(|| {
        let path = library_path();
        if !path.exists() {
            return Err(format!(
                "TensorFlow's library {} is missing: run `make tensorflow` in the checkout, or set {LIBRARY_VAR} to libtensorflow_cc.so.2 of the tensorflow-cpu=={VERSION} wheel",
                path.display()
            ));
        }
        // Before loading: TensorFlow reads it at start-up to quiet its INFO lines.
        if std::env::var_os("TF_CPP_MIN_LOG_LEVEL").is_none() {
            std::env::set_var("TF_CPP_MIN_LOG_LEVEL", "2");
        }
        quiet_stderr(|| Api::load(&path)).map_err(|e| format!("{e:#}"))
    })
    .as_ref()
    .map_err(|e| anyhow!("{e}"))
}

/// Runs `f` with file descriptor 2 on /dev/null: TensorFlow's static initialisers print an
/// INFO line (oneDNN) through absl before `TF_CPP_MIN_LOG_LEVEL` is honoured. Load errors
/// come back through `dlerror`, not stderr, so nothing is lost.
fn quiet_stderr<T>(f: impl FnOnce() -> T) -> T {
    // SAFETY: plain descriptor calls; fd 2 is restored before returning.
    unsafe {
        let saved = libc::dup(2);
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY);
        if saved < 0 || null < 0 {
            return f();
        }
        libc::dup2(null, 2);
        libc::close(null);
        let result = f();
        libc::dup2(saved, 2);
        libc::close(saved);
        result
    }
}

/// TensorFlow's version string (`2.21.0`).
pub fn version() -> Result<String> {
    let api = api()?;
    // SAFETY: TF_Version returns a static NUL-terminated string.
    Ok(unsafe { CStr::from_ptr((api.TF_Version)()) }
        .to_string_lossy()
        .into_owned())
}

/// An owned `TF_Status`.
pub struct Status {
    api: &'static Api,
    pub raw: *mut TfStatus,
}

impl Status {
    pub fn new(api: &'static Api) -> Self {
        // SAFETY: TF_NewStatus has no preconditions.
        Status {
            api,
            raw: unsafe { (api.TF_NewStatus)() },
        }
    }

    /// Ok, or the status's message with `what` before it.
    pub fn check(&self, what: impl FnOnce() -> String) -> Result<()> {
        // SAFETY: raw is a live status.
        unsafe {
            if (self.api.TF_GetCode)(self.raw) == 0 {
                return Ok(());
            }
            let message = CStr::from_ptr((self.api.TF_Message)(self.raw)).to_string_lossy();
            Err(anyhow!(
                "{}: {}",
                what(),
                message.lines().next().unwrap_or("")
            ))
        }
    }
}

impl Drop for Status {
    fn drop(&mut self) {
        // SAFETY: raw was made by TF_NewStatus and is deleted once.
        unsafe { (self.api.TF_DeleteStatus)(self.raw) }
    }
}
