//! What a token does while it runs: the calls it makes, DELEGATECALLs, `tx.origin` reads,
//! SELFDESTRUCTs and the logs it emits. Recorded for one watched contract per transaction.

use alloy::primitives::{Address, Log, U256};
use revm::{
    context_interface::ContextTr,
    interpreter::{interpreter::EthInterpreter, interpreter_types::Jumps, CallInputs, CallScheme, Interpreter},
    Inspector,
};

/// How one contract called another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallKind {
    Call,
    Static,
    Delegate,
}

/// A call made by the watched contract (or by code running in its storage context).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExternalCall {
    pub kind: CallKind,
    /// The code that ran: the callee, or the implementation of a DELEGATECALL.
    pub code: Address,
    pub selector: Option<[u8; 4]>,
}

/// Everything recorded during one transaction.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    pub calls: Vec<ExternalCall>,
    /// `ORIGIN` executed in the watched contract's context.
    pub origin_read: bool,
    /// SELFDESTRUCTs, by contract.
    pub selfdestructs: Vec<Address>,
    /// Every log of the transaction, in order.
    pub logs: Vec<Log>,
}

/// Records a [`Trace`] for `watched`.
#[derive(Debug, Clone)]
pub struct Recorder {
    pub watched: Address,
    pub trace: Trace,
}

impl Recorder {
    pub fn new(watched: Address) -> Self {
        Self { watched, trace: Trace::default() }
    }
}

/// `ORIGIN`.
const ORIGIN: u8 = 0x32;

impl<CTX: ContextTr> Inspector<CTX, EthInterpreter> for Recorder {
    fn step(&mut self, interp: &mut Interpreter<EthInterpreter>, _context: &mut CTX) {
        if !self.trace.origin_read && interp.bytecode.opcode() == ORIGIN && interp.input.target_address == self.watched
        {
            self.trace.origin_read = true;
        }
    }

    fn log(&mut self, _context: &mut CTX, log: Log) {
        self.trace.logs.push(log);
    }

    fn call(&mut self, context: &mut CTX, inputs: &mut CallInputs) -> Option<revm::interpreter::CallOutcome> {
        // `caller` is the contract whose code issued the call (for a DELEGATECALL, the storage
        // owner is `target_address`).
        let kind = match inputs.scheme {
            CallScheme::DelegateCall | CallScheme::CallCode => CallKind::Delegate,
            CallScheme::StaticCall => CallKind::Static,
            CallScheme::Call => CallKind::Call,
        };
        let from_watched = match kind {
            CallKind::Delegate => inputs.target_address == self.watched,
            _ => inputs.caller == self.watched,
        };
        if from_watched {
            let data = inputs.input.bytes(context);
            let selector = data.get(..4).map(|s| [s[0], s[1], s[2], s[3]]);
            self.trace.calls.push(ExternalCall { kind, code: inputs.bytecode_address, selector });
        }
        None
    }

    fn selfdestruct(&mut self, contract: Address, _target: Address, _value: U256) {
        self.trace.selfdestructs.push(contract);
    }
}
