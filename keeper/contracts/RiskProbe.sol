// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

interface IProbeERC20 {
    function balanceOf(address) external view returns (uint256);
}

interface IProbeRouter {
    function WETH() external view returns (address);
    function getAmountsOut(uint256 amountIn, address[] calldata path) external view returns (uint256[] memory);
    function swapExactETHForTokensSupportingFeeOnTransferTokens(uint256, address[] calldata, address, uint256)
        external payable;
    function swapExactTokensForETHSupportingFeeOnTransferTokens(uint256, uint256, address[] calldata, address, uint256)
        external;
}

/// The keeper's honeypot and tax probe. It is never deployed: the keeper injects its runtime code
/// at an unused address with an `eth_call` state override (plus a balance) and calls `probe`, so
/// the buy, the wallet transfer and the sell all run on the latest real state and nothing is mined.
/// Works on any node that supports state overrides (geth, erigon, reth, anvil, BSC, Polygon).
contract RiskProbe {
    struct Trade {
        uint256 ethIn;
        bool buyOk;
        uint256 buyQuote; // tokens the router quotes for ethIn on the pool's reserves (no token tax)
        uint256 bought; // tokens that actually arrived
        bool transferOk;
        uint256 transferSent; // tokens sent wallet-to-wallet (a tenth of what was bought)
        uint256 transferReceived; // tokens the other wallet received
        bool sellOk;
        uint256 sold; // tokens offered to the router
        uint256 sellQuote; // ETH the router quotes for `sold` on the reserves after the buy (no token tax)
        uint256 ethBack; // ETH that actually came back
        bool tinySellOk; // when the full sell fails: whether selling a thousandth of it works
        bytes buyError;
        bytes sellError;
    }

    receive() external payable {}

    /// Buys `token` with `ethIn` of this contract's balance through `router`, moves a tenth of it to
    /// another wallet, then sells the rest back, measuring every step.
    function probe(address router, address token, uint256 ethIn) external returns (Trade memory t) {
        t.ethIn = ethIn;
        address weth = IProbeRouter(router).WETH();
        address[] memory path = new address[](2);
        path[0] = weth;
        path[1] = token;
        try IProbeRouter(router).getAmountsOut(ethIn, path) returns (uint256[] memory q) {
            t.buyQuote = q[1];
        } catch {}
        uint256 before = _balance(token, address(this));
        try IProbeRouter(router).swapExactETHForTokensSupportingFeeOnTransferTokens{value: ethIn}(
            0, path, address(this), block.timestamp
        ) {
            t.buyOk = true;
        } catch (bytes memory reason) {
            t.buyError = reason;
            return t;
        }
        t.bought = _balance(token, address(this)) - before;
        if (t.bought == 0) return t;

        // Wallet-to-wallet transfer of a tenth, to a fresh address.
        address other = address(uint160(uint256(keccak256(abi.encode(address(this), token)))));
        t.transferSent = t.bought / 10;
        uint256 otherBefore = _balance(token, other);
        t.transferOk = _call(token, abi.encodeWithSelector(0xa9059cbb, other, t.transferSent));
        if (t.transferOk) t.transferReceived = _balance(token, other) - otherBefore;

        // Sell everything that is left.
        _call(token, abi.encodeWithSelector(0x095ea7b3, router, type(uint256).max));
        t.sold = _balance(token, address(this));
        path[0] = token;
        path[1] = weth;
        try IProbeRouter(router).getAmountsOut(t.sold, path) returns (uint256[] memory q) {
            t.sellQuote = q[1];
        } catch {}
        uint256 ethBefore = address(this).balance;
        try IProbeRouter(router).swapExactTokensForETHSupportingFeeOnTransferTokens(
            t.sold, 0, path, address(this), block.timestamp
        ) {
            t.sellOk = true;
            t.ethBack = address(this).balance - ethBefore;
        } catch (bytes memory reason) {
            t.sellError = reason;
            try IProbeRouter(router).swapExactTokensForETHSupportingFeeOnTransferTokens(
                t.sold / 1000, 0, path, address(this), block.timestamp
            ) {
                t.tinySellOk = true;
            } catch {}
        }
    }

    function _balance(address token, address who) private view returns (uint256) {
        (bool ok, bytes memory ret) = token.staticcall(abi.encodeWithSelector(0x70a08231, who));
        return ok && ret.length >= 32 ? abi.decode(ret, (uint256)) : 0;
    }

    /// ERC-20 call tolerant of tokens that return nothing.
    function _call(address token, bytes memory data) private returns (bool) {
        (bool ok, bytes memory ret) = token.call(data);
        return ok && (ret.length == 0 || abi.decode(ret, (bool)));
    }
}
