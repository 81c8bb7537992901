//! `eth_getLogs` over ranges a provider accepts: halved whenever it refuses one, doubled again
//! after successes.

use alloy::{
    providers::{DynProvider, Provider},
    rpc::types::{Filter, Log},
};

/// Next `eth_getLogs` range: halve on refusal (down to one block), double on success up to `max`.
pub fn next_range(current: u64, refused: bool, max: u64) -> u64 {
    if refused {
        (current / 2).max(1)
    } else {
        current.saturating_mul(2).clamp(1, max.max(1))
    }
}

/// All logs matching `filter` in `from..=to`, fetched in ranges of at most `range` blocks that
/// halve whenever the provider refuses one.
pub async fn get_logs_adaptive(
    http: &DynProvider,
    filter: &Filter,
    from: u64,
    to: u64,
    mut range: u64,
) -> Result<Vec<Log>, alloy::transports::TransportError> {
    let mut out = Vec::new();
    let mut start = from;
    while start <= to {
        let end = to.min(start.saturating_add(range.max(1) - 1));
        match http.get_logs(&filter.clone().from_block(start).to_block(end)).await {
            Ok(logs) => {
                out.extend(logs);
                start = end + 1;
            }
            Err(_) if end > start => range = next_range(end - start + 1, true, range),
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_halve_on_refusal_and_regrow() {
        assert_eq!(next_range(2_000, true, 2_000), 1_000);
        assert_eq!(next_range(1, true, 2_000), 1);
        assert_eq!(next_range(1_000, false, 2_000), 2_000);
        assert_eq!(next_range(1_500, false, 2_000), 2_000);
        assert_eq!(next_range(0, false, 2_000), 1);
    }
}
