//! Backends as cargo features, chosen at run time by [`BackendKind`].

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A Burn backend this crate can run on (each behind its cargo feature).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// Burn's Flex CPU backend (feature `flex`, the default).
    Flex,
    /// Burn's NdArray CPU backend (feature `ndarray`).
    NdArray,
    /// CUDA through CubeCL (feature `cuda`), device 0.
    Cuda,
    /// LibTorch through tch (feature `tch`), CPU.
    Tch,
}

impl BackendKind {
    /// Every kind, in order of preference.
    pub const ALL: [BackendKind; 4] = [Self::Flex, Self::NdArray, Self::Cuda, Self::Tch];

    /// The cargo feature (and CLI name).
    pub fn name(self) -> &'static str {
        match self {
            Self::Flex => "flex",
            Self::NdArray => "ndarray",
            Self::Cuda => "cuda",
            Self::Tch => "tch",
        }
    }

    /// Whether this build includes the backend.
    pub fn is_compiled(self) -> bool {
        match self {
            Self::Flex => cfg!(feature = "flex"),
            Self::NdArray => cfg!(feature = "ndarray"),
            Self::Cuda => cfg!(feature = "cuda"),
            Self::Tch => cfg!(feature = "tch"),
        }
    }

    /// The first compiled backend.
    pub fn default_compiled() -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.is_compiled())
    }

    /// Error unless compiled in.
    pub fn ensure_compiled(self) -> Result<Self> {
        if self.is_compiled() {
            Ok(self)
        } else {
            Err(Error::BackendUnavailable(self.name()))
        }
    }
}

impl std::str::FromStr for BackendKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                Error::Config(format!(
                    "unknown backend {s:?}, expected one of flex, ndarray, cuda, tch"
                ))
            })
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Concrete autodiff backend types, one per compiled feature.
pub mod backends {
    /// Flex (CPU) with autodiff.
    #[cfg(feature = "flex")]
    pub type FlexAutodiff = burn::backend::Autodiff<burn::backend::Flex>;
    /// NdArray (CPU) with autodiff.
    #[cfg(feature = "ndarray")]
    pub type NdArrayAutodiff = burn::backend::Autodiff<burn::backend::NdArray>;
    /// CUDA with autodiff.
    #[cfg(feature = "cuda")]
    pub type CudaAutodiff = burn::backend::Autodiff<burn::backend::Cuda>;
    /// LibTorch with autodiff.
    #[cfg(feature = "tch")]
    pub type TchAutodiff = burn::backend::Autodiff<burn::backend::LibTorch>;
}
