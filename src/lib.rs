//! callplan runs declarative, versioned YAML call plans against contact-centre platforms
//! (Genesys Cloud CX, NICE CXone) and any HTTP API.
//!
//! - [`call`]: the call-state vocabulary (phases, end reasons) and timestamps, shared by all;
//! - [`plan`]: reading, checking and modelling plan files;
//! - [`provider`]: the providers, one folder per vendor: catalogue, login, waiting, error hints;
//! - [`phone`]: E.164 validation and normalization;
//! - [`template`]: the minijinja environment and template checks;
//! - [`placeholder`]: values only a run knows, as a dry run carries and shows them;
//! - [`diagnostic`]: located findings and how they are shown;
//! - [`report`]: reporters (the terminal), and masking secrets;
//! - [`lifecycle`]: a run from start to end: resolve, check outputs, log in, steps, finish,
//!   and signals;
//! - [`runner`]: running a plan's steps, error policies and retries;
//! - [`sandbox`]: the built-in Genesys Cloud and NICE CXone emulator;
//! - [`cli`]: the command line.

pub mod call;
pub mod cli;
pub mod diagnostic;
pub(crate) mod duration;
pub mod lifecycle;
pub mod phone;
pub mod placeholder;
pub mod plan;
pub mod provider;
pub mod report;
pub mod runner;
pub mod sandbox;
pub mod template;
