%% The differences between OTP's `ssl' and `ts_ssl_otp' (the modern API served by the bridge), as
%% rules of conf_dialect's form, for the scenarios of test/conformance/modern/. Each is a limit
%% of node:tls that the bridge cannot get round; everything else must be the same.
%%
%% README.md "ts_ssl_otp and OTP's ssl" is this table, rendered by test/conformance/table.ts.
-module(conf_dialect_otp).

-export([rules/0, explain/3]).

-spec explain(atom(), term(), term()) -> [atom()].
explain(Call, Otp, Bridge) ->
    conf_dialect:explain(rules(), Call, Otp, Bridge).

-spec rules() -> [map()].
rules() ->
    [#{name => refusal_without_alert,
       otp => "the peer whose certificate is refused (or that sends none to a server with "
              "`{fail_if_no_peer_cert, true}`) gets the fatal alert: "
              "`{error, {tls_alert, {Alert, Text}}}`",
       ts_ssl => "that peer sees the connection close: `{error, closed}`",
       why => "node:tls has no certificate-verify callback: the bridge checks the peer's chain "
              "itself once node:tls has finished the handshake, and can then only close the "
              "connection. The refusing side gets OTP's reason as usual.",
       match => fun({error, {tls_alert, {Alert, {'#AlertText', _, received}}}}, {error, closed}) ->
                        lists:member(Alert, [handshake_failure, certificate_required, unknown_ca,
                                             bad_certificate, certificate_expired])
                end}].
