%% The differences between ssl 3.9 (which ts_ssl serves) and the ssl of modern OTP, as rules the
%% conformance runner applies to a step whose two results differ. A rule explains the step when
%% its predicate holds for (OTP's result, ts_ssl's result), both normalised
%% (conf_runner:normalise/1), and, for a rule about some functions (`calls'), when the step is
%% a call of one of them (conf:note/3). Each predicate names the exact shapes on both sides, so
%% that a rule never explains more than its difference.
%%
%% README.md "Differences from modern OTP ssl" is this table, rendered by
%% test/conformance/table.ts; the conformance test fails when the two disagree, and when a rule
%% explains no step of any scenario.
-module(conf_dialect).

-export([rules/0, explain/3, explain/4]).

-type rule() :: #{name := atom(), otp := string(), ts_ssl := string(), why := string(),
                  calls => [atom()], match := fun((term(), term()) -> boolean())}.

%% Names of the rules that explain OTP's Otp beside ts_ssl's Bridge at a step about Call.
-spec explain(atom(), term(), term()) -> [atom()].
explain(Call, Otp, Bridge) ->
    explain(rules(), Call, Otp, Bridge).

%% The same for another table of rules of this form (conf_dialect_otp's).
-spec explain([rule()], atom(), term(), term()) -> [atom()].
explain(Rules, Call, Otp, Bridge) ->
    [Name || #{name := Name, match := Match} = Rule <- Rules,
             lists:member(Call, maps:get(calls, Rule, [Call])),
             holds(Match, Otp, Bridge)].

holds(Match, Otp, Bridge) ->
    try Match(Otp, Bridge) of
        true -> true;
        _ -> false
    catch
        error:function_clause -> false
    end.

-spec rules() -> [rule()].
rules() ->
    [#{name => getopts_in_the_order_asked,
       otp => "options in an order of its own (the reverse of the tags asked)",
       ts_ssl => "options in the order asked",
       why => "The manual does not say; in the order asked, a caller can match "
              "`{ok, [{mode, M}, {active, A}]}`.",
       calls => [getopts],
       match => fun({ok, O}, {ok, B}) -> O =/= B andalso lists:sort(O) =:= lists:sort(B) end},
     #{name => listen_without_options,
       otp => "`listen(Port, [])`: `{error, nooptions}`",
       ts_ssl => "`{error, enooptions}`",
       why => "The manual: \"An empty Options list is considered an error, and "
              "{error, enooptions} is returned.\"",
       calls => [listen],
       match => fun({error, nooptions}, {error, enooptions}) -> true end},
     #{name => option_errors,
       otp => "`{error, {options, What}}`; for some options `listen` exits with `badarg` or "
              "throws `{option_not_a_key_value_tuple, O}`",
       ts_ssl => "`{error, eoptions}`",
       why => "The manual's reason for an invalid list of options.",
       calls => [listen, connect, setopts],
       match => fun({error, {options, _}}, {error, eoptions}) -> true;
                   ({raised, exit, badarg}, {error, eoptions}) -> true;
                   ({raised, throw, {option_not_a_key_value_tuple, _}}, {error, eoptions}) -> true
                end},
     #{name => cipher_errors,
       otp => "`{error, {options, {ciphers, String}}}`",
       ts_ssl => "`{error, ecipher}`",
       why => "The manual: ecipher, \"Own list of specified ciphers is invalid\".",
       calls => [listen, connect],
       match => fun({error, {options, {ciphers, _}}}, {error, ecipher}) -> true end},
     #{name => packet_3,
       otp => "`setopts(S, [{packet, 3}])`: `{error, {options, {socket_options, {packet, 3}}}}`",
       ts_ssl => "`{error, einval}`",
       why => "3.9 let `{packet, 3}` through to its inet socket, which refused it with einval.",
       calls => [setopts],
       match => fun({error, {options, {socket_options, {packet, 3}}}}, {error, einval}) -> true end},
     #{name => files_read_at_listen,
       otp => "`listen` succeeds with a certificate, key or CA file that cannot be used; each "
              "handshake then fails",
       ts_ssl => "`listen` fails: `ecertfile`, `ekeyfile`, `ekeymismatch`, `ecacertfile`",
       why => "3.9 loaded the files when the listen socket was made; the manual names these "
              "reasons for them.",
       match => fun({{ok, S}, refused}, {{error, R}, no_listen_socket}) ->
                        is_socket(S) andalso
                            lists:member(R, [ecertfile, ekeyfile, ekeymismatch, ecacertfile])
                end},
     #{name => files_read_at_connect,
       otp => "`connect` succeeds with a certificate or key file that cannot be used (the server "
              "asks for no certificate); a CA file that cannot be read: "
              "`{error, {options, {cacertfile, Path, {error, Posix}}}}`",
       ts_ssl => "`connect` fails: `ecertfile`, `ekeyfile`, `ekeymismatch`, `ecacertfile`",
       why => "3.9 loaded the files before connecting; the manual names these reasons for them.",
       calls => [connect],
       match => fun({ok, S}, {error, R}) ->
                        is_socket(S) andalso lists:member(R, [ecertfile, ekeyfile, ekeymismatch]);
                   ({error, {options, {cacertfile, _, {error, _}}}}, {error, ecacertfile}) ->
                        true
                end},
     #{name => verify_failure_reasons,
       otp => "`{error, {tls_alert, {Alert, Text}}}`: `certificate_expired` (expired or not yet "
              "valid), `bad_certificate` (self-signed), `unknown_ca` (unknown issuer, "
              "self-signed CA in the chain), `handshake_failure` (chain longer than `depth`)",
       ts_ssl => "`epeercertexpired`, `epeercertinvalid`, `eselfsignedcert`, `enoissuercert`, "
                 "`echaintoolong`",
       why => "The manual's reasons, which 3.9 took from OpenSSL's verify result.",
       calls => [connect, accept, ssl_accept],
       match => fun({error, {tls_alert, {Alert, _}}}, {error, R}) ->
                        lists:member({Alert, R}, [{certificate_expired, epeercertexpired},
                                                  {certificate_expired, epeercertinvalid},
                                                  {bad_certificate, eselfsignedcert},
                                                  {unknown_ca, enoissuercert},
                                                  {unknown_ca, eselfsignedcert},
                                                  {handshake_failure, echaintoolong}])
                end},
     #{name => handshake_failure_reasons,
       otp => "`{error, {tls_alert, {Alert, Text}}}` for a handshake that fails for want of a "
              "client certificate (`handshake_failure`, TLS 1.3: `certificate_required`) or on "
              "what is not TLS (`unexpected_message`)",
       ts_ssl => "`esslaccept` (server), `esslconnect` (client)",
       why => "The manual: \"Server (Client) SSL handshake procedure between client and server "
              "failed.\"",
       calls => [connect, accept, ssl_accept],
       match => fun({error, {tls_alert, {certificate_required, _}}}, {error, esslaccept}) -> true;
                   ({error, {tls_alert, {handshake_failure, Text}}}, {error, esslaccept}) ->
                        string:find(Text, "no_client_certificate_provided") =/= nomatch;
                   ({error, {tls_alert, {unexpected_message, _}}}, {error, esslaccept}) -> true;
                   ({error, {tls_alert, {unexpected_message, _}}}, {error, esslconnect}) -> true
                end},
     #{name => alert_from_peer,
       otp => "a handshake the peer ends with a fatal alert: `{error, {tls_alert, {Alert, Text}}}`",
       ts_ssl => "`{error, esslerrssl}`",
       why => "The manual: esslerrssl, \"SSL protocol failure. Typically because of a fatal "
              "alert from peer.\"",
       calls => [connect, accept, ssl_accept, recv],
       match => fun({error, {tls_alert, {_, Text}}}, {error, esslerrssl}) ->
                        string:find(Text, " received ") =/= nomatch
                end},
     #{name => refusal_without_alert,
       otp => "the peer whose certificate is refused (or that sends none to a `{verify, 2}` "
              "server) gets the fatal alert: `{error, {tls_alert, {Alert, Text}}}`",
       ts_ssl => "that peer sees the connection close: `{error, closed}`",
       why => "Not a 3.9 difference: a limit of node:tls, which has no certificate-verify "
              "callback. ts_ssl checks the peer's chain itself, to honour `depth` and give 3.9's "
              "reasons, once node:tls has finished the handshake; a refused peer is then closed "
              "without an alert. The refusing side gets the manual's reason as usual.",
       calls => [peer],
       match => fun({error, {tls_alert, {Alert, _}}}, {error, closed}) ->
                        lists:member(Alert, [certificate_expired, bad_certificate, unknown_ca,
                                             handshake_failure, certificate_required])
                end},
     #{name => verify_without_cacertfile,
       otp => "`{verify, verify_peer}` without `cacertfile`: `{error, {options, {cacertfile, []}}}` "
              "before connecting",
       ts_ssl => "connects, and verification fails: `{error, enoissuercert}`",
       why => "3.9 verified against the CA certificates it had, none here.",
       calls => [connect],
       match => fun({error, {options, {cacertfile, []}}}, {error, enoissuercert}) -> true end},
     #{name => no_peer_certificate,
       otp => "`peercert/1` when the peer sent none: `{error, no_peercert}`",
       ts_ssl => "`{error, enopeercert}`",
       why => "The reason 3.9's port program gave.",
       calls => [peercert],
       match => fun({error, no_peercert}, {error, enopeercert}) -> true end},
     #{name => no_server_certificate,
       otp => "accepting on a listen socket made without `certfile`: the handshake crashes "
              "(`function_clause` in `public_key:pkix_decode_cert/2`)",
       ts_ssl => "`{error, enoservercert}`",
       why => "The manual: enoservercert, \"Attempt to do accept without having set own "
              "certificate\".",
       calls => [accept, ssl_accept],
       match => fun({raised, exit, {{function_clause, [{public_key, pkix_decode_cert, _, _} | _]},
                                    _}},
                    {error, enoservercert}) -> true
                end},
     #{name => wrong_kind_of_socket,
       otp => "a function clause error for a listen socket where a connection is wanted, or "
              "the reverse, or what is no socket",
       ts_ssl => "`{error, enotlistener}` (accepting on a connection), `{error, ebadstate}` "
                 "(ssl_accept on a listen socket), `{error, einval}` (no socket)",
       why => "The manual's reasons (enotlistener, ebadstate); inet's einval for a bad "
              "argument, as gen_tcp answers.",
       match => fun({raised, error, function_clause}, {error, R}) ->
                        lists:member(R, [enotlistener, ebadstate, einval])
                end},
     #{name => bad_arguments,
       otp => "a port out of range (`connect`), a tag it does not know (`getopts`): "
              "`{error, {options, What}}`",
       ts_ssl => "`{error, einval}`",
       why => "inet's answer to an argument it cannot use, as gen_tcp gives it.",
       calls => [connect, getopts],
       match => fun({error, {options, _}}, {error, einval}) -> true end},
     #{name => recv_in_active_mode,
       otp => "`recv` on an active socket: `{error, einval}`",
       ts_ssl => "`{error, {badcall, Request}}`",
       why => "The manual's {badcall, Call}: \"Call not recognized for current mode (active or "
              "passive)\".",
       calls => [recv],
       match => fun({error, einval}, {error, {badcall, {recv, _, _, _}}}) -> true end},
     #{name => recv_length_needs_raw,
       otp => "`recv(S, N > 0)` with a packet type waits for a packet (here: `{error, timeout}`)",
       ts_ssl => "`{error, einval}` at once",
       why => "The manual: a positive Length \"is only valid when the socket is in raw mode\"; "
              "gen_tcp answers einval.",
       calls => [recv],
       match => fun({error, timeout}, {error, einval}) -> true end},
     #{name => recv_length_across_setopts,
       otp => "a `recv(S, N > 0)` that waits while `setopts` sets a packet type is answered "
              "with the next packet; the `recv(S, 0)` after it waits",
       ts_ssl => "the waiting recv times out (`{error, timeout}`); the `recv(S, 0)` after it "
                 "gets the packet",
       why => "What gen_tcp, under 3.9's TLS, does: a recv of N bytes is not a recv of a packet.",
       calls => [recv_across_setopts],
       match => fun({{ok, P}, {error, timeout}}, {{error, timeout}, {ok, P}}) -> true end},
     #{name => send_not_iodata,
       otp => "`send(S, NotIodata)` raises `badarg`",
       ts_ssl => "`{error, einval}`",
       why => "3.9 sent through a gen_tcp socket, which answers einval.",
       calls => [send],
       match => fun({raised, error, badarg}, {error, einval}) -> true end},
     #{name => calls_after_close,
       otp => "`close/1` of a closed socket: `ok`; `sockname`, `peername`: `{error, einval}`",
       ts_ssl => "`{error, closed}` for every call on a closed socket",
       why => "3.9 made the caller exit (noproc); the manual's ERRORS section describes closed, "
              "as for every other call.",
       calls => [close, sockname, peername],
       match => fun(ok, {error, closed}) -> true;
                   ({error, einval}, {error, closed}) -> true
                end},
     #{name => controlling_process_by_owner_only,
       otp => "`controlling_process/2` by a process that is not the owner: `ok`, and the "
              "socket changes owner",
       ts_ssl => "`{error, {badcall, Request}}`; the owner keeps the socket",
       why => "3.9 refused a non-owner; the manual: the owner is the "
              "one that made the socket.",
       match => fun({ok, stranger_got_it}, {{error, {badcall, {controlling_process, _, _}}},
                                             owner_got_it}) -> true
                end},
     #{name => queued_messages_follow_the_owner,
       otp => "messages already in the old owner's mailbox stay there",
       ts_ssl => "they are passed on to the new owner, before later ones",
       why => "What 3.9 (and gen_tcp) do.",
       match => fun({Relayed, Queued}, {All, []}) ->
                        Queued =/= [] andalso All =:= Queued ++ Relayed
                end},
     #{name => packet_errors,
       otp => "a packet that cannot be framed (over `packet_size`): `{invalid_packet, Bytes}`; "
              "in active mode no `{ssl_closed, S}` follows",
       ts_ssl => "`emsgsize`, then the socket closes: in active mode `{ssl_error, S, emsgsize}` "
                 "then `{ssl_closed, S}`",
       why => "gen_tcp's behaviour, which 3.9's loopback socket had.",
       match => fun({error, {invalid_packet, _}}, {error, emsgsize}) -> true;
                   ({{ssl_error, S, {invalid_packet, _}}, no_message},
                    {{ssl_error, S, emsgsize}, {ssl_closed, S}}) -> true
                end},
     #{name => backlog_overflow_reset,
       otp => "connections past the listen queue of `{backlog, N}` (Linux: N + 1) wait for the "
              "server's answer to their SYN (here: connect's `{error, timeout}`)",
       ts_ssl => "as many are kept; the others connect and are reset at once",
       why => "Not a 3.9 difference: node:net accepts every connection the kernel queues and "
              "cannot leave them in its queue; resetting those past it is what Linux does on "
              "overflow with net.ipv4.tcp_abort_on_overflow.",
       calls => [connects],
       match => fun([{kept, K}, {reset, 0}, {timeout, N}], [{kept, K}, {reset, N}, {timeout, 0}])
                      -> N > 0 end},
     #{name => reuseaddr_always,
       otp => "`listen` with `{reuseaddr, false}` on a port that a connection (of a listen "
              "socket since closed) still holds: `{error, eaddrinuse}`",
       ts_ssl => "the listen socket is made",
       why => "Not a 3.9 difference: node:net sets SO_REUSEADDR on every socket it binds, so "
              "`{reuseaddr, false}` cannot be honoured (`{reuseaddr, true}` is gen_tcp's).",
       calls => [listen_without_reuseaddr],
       match => fun({error, eaddrinuse}, listening) -> true end},
     #{name => gone_in_modern_otp,
       otp => "`pid/1`, `seed/1`, `ciphers/0`, `version/0`, `peercert/2`: `undef`",
       ts_ssl => "the manual's answers: a pid, `ok`, `{ok, \"CIPHER:...\"}`, "
                 "`{ok, {\"3.9\", _, _}}`, the decoded certificate",
       why => "Functions of the ssl 3.9 manual.",
       calls => [pid, seed, ciphers, version, peercert],
       match => fun({raised, error, undef}, Answer) -> manual_answer(Answer) end},
     #{name => format_error_texts,
       otp => "`format_error/1`: OTP's texts",
       ts_ssl => "the texts of ssl 3.9's ERRORS section",
       why => "The manual lists the diagnostic string of each reason.",
       calls => [format_error],
       match => fun(O, B) -> io_lib:printable_list(O) andalso io_lib:printable_list(B) end}].

is_socket(Name) when is_atom(Name) ->
    lists:prefix("#S", atom_to_list(Name));
is_socket(_) ->
    false.

%% What the manual says the 3.9-only functions return.
manual_answer(ok) -> true;
manual_answer({ok, {"3.9", Compiled, Runtime}}) -> is_list(Compiled) andalso is_list(Runtime);
manual_answer({ok, '#Ciphers'}) -> true;
manual_answer({ok, Cert}) -> is_tuple(Cert);
manual_answer(Pid) when is_atom(Pid) -> lists:prefix("#Pid", atom_to_list(Pid));
manual_answer(_) -> false.
