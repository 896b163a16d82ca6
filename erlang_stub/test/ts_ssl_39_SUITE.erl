%% What the ssl 3.9 manual says that native ssl does not, against the bridge named by
%% TS_SSL_BRIDGE, each answer exactly: ciphers/0, version/0 and seed/1, the options and their
%% defaults, the reasons of verification, files, accepting and data, the owner rules, and
%% openssl's s_server and s_client as peers. ts_ssl_SUITE has the cases that need a native ssl
%% peer. Where a conformance scenario (test/conformance/scenarios) already pins ts_ssl's answer,
%% equal to OTP's or exactly as a dialect rule names it (timeouts, refused connections,
%% enooptions, ecipher, {packet, 3}, recv with a length and a packet type, {active, N}, the mode
%% and nodelay options), the case is there and not here.
-module(ts_ssl_39_SUITE).

-include_lib("common_test/include/ct.hrl").
-include_lib("public_key/include/public_key.hrl").
-include("ts_ssl_test.hrl").

-compile([export_all, nowarn_export_all]).

-import(ts_ssl_peers, [async/1, await/1, wait_until/1, native_listen/1, native_accept/1,
                       native_connect/2, peer_args/0]).
-import(ts_ssl_conn, [certs/1, file/2, server_options/1, client_options/1, ca/1, verify_1/1,
                      port/2, pair/3, pair/4, connect_to/3, connect_to/4, accept_from/3,
                      exchange/3, next_message/1, no_message/1, queued/1, relay/0,
                      receive_relayed/0]).

suite() ->
    [{timetrap, {seconds, 60}}].

all() ->
    case os:getenv("TS_SSL_BRIDGE") of
        false ->
            {skip, "TS_SSL_BRIDGE names no bridge"};
        _ ->
            [{group, library}, {group, options}, {group, verification}, {group, files},
             {group, accepting}, {group, connecting}, {group, data}, {group, owners},
             {group, openssl}, shell_without_sname]
    end.

groups() ->
    [{library, [], [ciphers_are_openssl_names, version_is_3_9, seed_takes_iodata, port_of_a_socket]},
     {options, [],
      [listen_defaults, getopts_in_the_order_asked, backlog_option, unknown_options,
       ssl_options_in_setopts, ciphers_option, ciphers_of_tls_1_2_only]},
     {verification, [],
      [verify_0_by_default, verify_1_trusted, verify_1_expired, verify_1_not_yet_valid,
       verify_1_self_signed, verify_1_self_signed_in_chain, verify_1_unknown_issuer,
       verify_1_without_cacertfile, depth_1_by_default, depth_1_chain_too_long,
       depth_2_longer_chain, verify_1_client_without_certificate,
       verify_2_client_without_certificate, verify_2_client_certificate,
       verify_1_untrusted_client_certificate, depth_1_client_chain_too_long,
       depth_2_longer_client_chain, verify_1_certificate_for_clients_only]},
     {files, [],
      [missing_certfile, corrupt_certfile, missing_keyfile, corrupt_keyfile,
       missing_cacertfile, corrupt_cacertfile, key_not_matching_certificate,
       password_protected_key, wrong_password, wrong_password_on_connect,
       cacertfile_read_by_connect]},
     {accepting, [],
      [accept_on_a_connected_socket, accept_without_certificate, non_tls_client,
       peer_alert_during_accept, traffic_before_ssl_accept]},
     {connecting, [], [connect_empty_options]},
     {data, [], [recv_in_active_mode, packet_too_large]},
     {owners, [],
      [controlling_process_only_by_owner, controlling_process_to_a_third_by_non_owner,
       controlling_process_passes_queued_messages, controlling_process_passes_queued_close,
       controlling_process_of_active_once, listen_socket_closes_with_its_owner,
       socket_pid_stands_for_the_socket, socket_killed_signals_its_owner,
       exit_signal_follows_the_owner, owner_node_down_closes_socket]},
     {openssl, [],
      [openssl_s_server_peer, openssl_s_client_peer, cachetimeout_is_the_session_lifetime]}].

init_per_suite(Config) ->
    {ok, _} = application:ensure_all_started(ssl),
    ok = ts_ssl:start(),
    [{certs, ts_ssl_certs:make(filename:join(?config(priv_dir, Config), ?MODULE))} | Config].

end_per_suite(_Config) ->
    ok.

init_per_group(_, Config) ->
    [{mod, ts_ssl} | Config].

end_per_group(_, _Config) ->
    ok.

%%% The library

ciphers_are_openssl_names(Config) ->
    {ok, Ciphers} = ts_ssl:ciphers(),
    Names = string:lexemes(Ciphers, ":"),
    true = length(Names) > 0,
    [true = io_lib:printable_latin1_list(N) || N <- Names],
    {S, _Peer} = pair(Config, client, []),
    {ok, {_, Cipher}} = ts_ssl:connection_info(S),
    true = lists:member(Cipher, Names).

version_is_3_9(_Config) ->
    {ok, {"3.9", Compiled, Runtime}} = ts_ssl:version(),
    true = Compiled =/= "" andalso io_lib:printable_latin1_list(Compiled),
    true = Runtime =/= "" andalso io_lib:printable_latin1_list(Runtime).

seed_takes_iodata(_Config) ->
    ok = ts_ssl:seed(<<"some entropy">>),
    ok = ts_ssl:seed(["some", [$e], <<"ntropy">>]),
    {error, edata} = ts_ssl:seed(not_data).

%% The manual's listen/2: after listening on port 0, port/1 tells the port chosen. It answers
%% what inet:port/1 answers for a gen_tcp socket: the local port, of a connection too.
port_of_a_socket(Config) ->
    {ok, Listen} = ts_ssl:listen(0, server_options(Config)),
    {ok, Port} = ts_ssl:port(Listen),
    true = Port > 0,
    {ok, {_, Port}} = ts_ssl:sockname(Listen),
    {ok, Tcp} = gen_tcp:connect({127, 0, 0, 1}, Port, []),
    {ok, TcpPort} = inet:port(Tcp),
    {ok, S} = ts_ssl:transport_accept(Listen, ?WAIT),
    {ok, {_, TcpPort}} = ts_ssl:peername(S),
    {ok, Port} = ts_ssl:port(S),
    ok = ts_ssl:close(Listen),
    {error, closed} = ts_ssl:port(Listen).

%%% Options and their defaults

listen_defaults(Config) ->
    {ok, Listen} = ts_ssl:listen(0, server_options(Config)),
    {ok, [{mode, list}, {packet, 0}, {header, 0}, {active, true}, {backlog, 5},
          {ip, {0, 0, 0, 0}}]} =
        ts_ssl:getopts(Listen, [mode, packet, header, active, backlog, ip]).

%% The accepted socket inherits the listen socket's options.
getopts_in_the_order_asked(Config) ->
    {S, _Peer} = pair(Config, server, [binary, {packet, 2}, {active, false}]),
    {ok, [{active, false}, {packet, 2}, {mode, binary}]} =
        ts_ssl:getopts(S, [active, packet, mode]).

backlog_option(Config) ->
    {ok, Listen} = ts_ssl:listen(0, [{backlog, 12} | server_options(Config)]),
    {ok, [{backlog, 12}]} = ts_ssl:getopts(Listen, [backlog]).

unknown_options(Config) ->
    {error, eoptions} = ts_ssl:listen(0, [{no_such_option, 1} | server_options(Config)]),
    {error, eoptions} = ts_ssl:listen(0, [{verify, 3} | server_options(Config)]),
    {error, eoptions} = ts_ssl:listen(0, [{packet, bogus} | server_options(Config)]),
    {error, eoptions} = ts_ssl:connect("127.0.0.1", 1, [{no_such_option, 1}]),
    {error, eoptions} = ts_ssl:connect("127.0.0.1", 1, [not_an_option]).

ssl_options_in_setopts(Config) ->
    {S, _Peer} = pair(Config, client, []),
    {error, eoptions} = ts_ssl:setopts(S, [{verify, 1}]),
    {error, eoptions} = ts_ssl:setopts(S, [{certfile, "server.pem"}]),
    {error, eoptions} = ts_ssl:setopts(S, [{depth, 3}]).

%% {ciphers, String}: the server's list decides; the peer here offers only TLS 1.2.
ciphers_option(Config) ->
    Cipher = "ECDHE-ECDSA-AES128-GCM-SHA256",
    {S, _Peer} = pair(Config, server, [{ciphers, Cipher}], [{versions, ['tlsv1.2']}]),
    {ok, {'tlsv1.2', Cipher}} = ts_ssl:connection_info(S).

%% A list of TLS 1.2 ciphers only, against a native peer that offers TLS 1.3 as well. The
%% manual's {ciphers, String} is the "colon separated list of ciphers" the socket may use, so
%% the handshake settles on TLS 1.2 and one of them, whichever side gives the list.
ciphers_of_tls_1_2_only(Config) ->
    Listed = ["ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305"],
    Ciphers = {ciphers, lists:flatten(lists:join(":", Listed))},
    [begin
         {S, Peer} = pair(Config, Role, [Ciphers]),
         {ok, {Protocol, Cipher}} = ts_ssl:connection_info(S),
         {Role, 'tlsv1.2', true} = {Role, Protocol, lists:member(Cipher, Listed)},
         {ok, {Protocol, Cipher}} = ts_ssl_native:connection_info(Peer)
     end || Role <- [server, client]],
    ok.

verify_0_by_default(Config) ->
    {ok, _} = connect_to(Config, "self_signed", []),
    {ok, _} = connect_to(Config, "expired", [{verify, 0}]).

verify_1_trusted(Config) ->
    {ok, _} = connect_to(Config, "server", verify_1(Config)).

verify_1_expired(Config) ->
    {error, epeercertexpired} = connect_to(Config, "expired", verify_1(Config)).

verify_1_not_yet_valid(Config) ->
    {error, epeercertinvalid} = connect_to(Config, "not_yet_valid", verify_1(Config)).

%% The manual: "Certificate provided by peer is self signed", whether alone or at the top of the
%% chain the peer sent.
verify_1_self_signed(Config) ->
    {error, eselfsignedcert} = connect_to(Config, "self_signed", verify_1(Config)).

verify_1_self_signed_in_chain(Config) ->
    {error, eselfsignedcert} =
        connect_to(Config, "stranger", "stranger_bundle.pem", verify_1(Config)).

verify_1_unknown_issuer(Config) ->
    {error, enoissuercert} = connect_to(Config, "stranger", verify_1(Config)).

verify_1_without_cacertfile(Config) ->
    {error, enoissuercert} = connect_to(Config, "server", [{verify, 1}]).

%% The manual's depth: peer certificate 0, its CA 1, the next CA 2; OpenSSL's, in which depth
%% N lets a chain reach the trusted root at level N + 1.
depth_1_by_default(Config) ->
    {ok, _} = connect_to(Config, "short_chain", "short_chain_bundle.pem", verify_1(Config)).

depth_1_chain_too_long(Config) ->
    {error, echaintoolong} =
        connect_to(Config, "long_chain", "long_chain_bundle.pem", verify_1(Config)).

depth_2_longer_chain(Config) ->
    {ok, _} = connect_to(Config, "long_chain", "long_chain_bundle.pem",
                         [{depth, 2} | verify_1(Config)]).

verify_1_client_without_certificate(Config) ->
    {{ok, S}, _} = accept_from(Config, verify_1(Config), []),
    {error, enopeercert} = ts_ssl:peercert(S).

verify_2_client_without_certificate(Config) ->
    {{error, esslaccept}, _} = accept_from(Config, [{verify, 2} | ca(Config)], []).

%% The client's certificate, in each form peercert/2 gives.
verify_2_client_certificate(Config) ->
    {{ok, S}, _} = accept_from(Config, [{verify, 2} | ca(Config)], client_options(Config)),
    Der = ts_ssl_certs:der(certs(Config), "client.pem"),
    Plain = public_key:pkix_decode_cert(Der, plain),
    Otp = public_key:pkix_decode_cert(Der, otp),
    {ok, Der} = ts_ssl:peercert(S),
    {ok, Plain} = ts_ssl:peercert(S, [pkix]),
    {ok, Otp} = ts_ssl:peercert(S, [ssl]),
    {ok, {rdnSequence, _} = Subject} = ts_ssl:peercert(S, [ssl, subject]),
    Subject = Otp#'OTPCertificate'.tbsCertificate#'OTPTBSCertificate'.subject,
    {ok, {rdnSequence, _}} = ts_ssl:peercert(S, [pkix, subject]),
    {error, eoptions} = ts_ssl:peercert(S, [subject]),
    {error, eoptions} = ts_ssl:peercert(S, [pkix, ssl]).

verify_1_untrusted_client_certificate(Config) ->
    Stranger = [{certfile, file(Config, "stranger.pem")}, {keyfile, file(Config, "stranger.key")}],
    {{error, enoissuercert}, _} = accept_from(Config, verify_1(Config), Stranger).

%% {depth, D} on the accepting side judges the client's chain as a client judges a server's.
%% The manual: depth 2 "means that a chain can at most contain peer cert, CA cert, next CA cert,
%% and an additional CA cert", so the client's leaf, two intermediates and the root are what
%% depth 2 allows and one more than depth 1 does (echaintoolong from ssl_accept).
depth_1_client_chain_too_long(Config) ->
    {{error, echaintoolong}, _} = ssl_accept_client_chain(Config, [{depth, 1}]).

depth_2_longer_client_chain(Config) ->
    {ok, S} = ssl_accept_client_chain(Config, [{depth, 2}]),
    Der = ts_ssl_certs:der(certs(Config), "long_chain.pem"),
    {ok, Der} = ts_ssl:peercert(S).

%% ssl_accept/1 of a {verify, 2} listener with Options, for a native client that presents
%% long_chain.pem with both intermediates: {ssl_accept's result, the socket}.
ssl_accept_client_chain(Config, Options) ->
    {ok, Listen} = ts_ssl:listen(0, [{verify, 2} | Options] ++ ca(Config) ++
                                     server_options(Config)),
    _ = native_connect(port(ts_ssl, Listen),
                       [{certfile, file(Config, "long_chain.pem")},
                        {keyfile, file(Config, "long_chain.key")},
                        {cacertfile, file(Config, "long_chain_bundle.pem")}]),
    {ok, S} = ts_ssl:transport_accept(Listen),
    case ts_ssl:ssl_accept(S) of
        ok -> {ok, S};
        Error -> {Error, S}
    end.

%% A server certificate the trusted CA issued for client authentication only
%% (extendedKeyUsage clientAuth): none of the manual's named reasons, so epeercert,
%% "Certificate provided by peer is in error".
verify_1_certificate_for_clients_only(Config) ->
    {error, epeercert} = connect_to(Config, "client_auth_only", verify_1(Config)).

%%% Certificate, key and CA files

missing_certfile(Config) ->
    {error, ecertfile} = ts_ssl:listen(0, [{certfile, file(Config, "missing.pem")},
                                           {keyfile, file(Config, "server.key")}]).

corrupt_certfile(Config) ->
    [{error, ecertfile} = ts_ssl:listen(0, [{certfile, file(Config, Corrupt)},
                                            {keyfile, file(Config, "server.key")}])
     || Corrupt <- ["corrupt.pem", "garbage.bin"]],
    ok.

missing_keyfile(Config) ->
    {error, ekeyfile} = ts_ssl:listen(0, [{certfile, file(Config, "server.pem")},
                                          {keyfile, file(Config, "missing.key")}]).

corrupt_keyfile(Config) ->
    [{error, ekeyfile} = ts_ssl:listen(0, [{certfile, file(Config, "server.pem")},
                                           {keyfile, file(Config, Corrupt)}])
     || Corrupt <- ["corrupt.key", "garbage.bin"]],
    ok.

missing_cacertfile(Config) ->
    {error, ecacertfile} =
        ts_ssl:listen(0, [{cacertfile, file(Config, "missing.pem")} | server_options(Config)]).

corrupt_cacertfile(Config) ->
    [{error, ecacertfile} =
         ts_ssl:listen(0, [{cacertfile, file(Config, Corrupt)} | server_options(Config)])
     || Corrupt <- ["corrupt.pem", "garbage.bin"]],
    ok.

key_not_matching_certificate(Config) ->
    {error, ekeymismatch} = ts_ssl:listen(0, [{certfile, file(Config, "server.pem")},
                                              {keyfile, file(Config, "client.key")}]).

%% {password, _} opens an encrypted key; the connection then works as any other.
password_protected_key(Config) ->
    #{password := Password} = certs(Config),
    Options = [{certfile, file(Config, "server.pem")},
               {keyfile, file(Config, "server_encrypted.key")}, {password, Password},
               binary, {active, false}],
    {ok, Listen} = ts_ssl:listen(0, Options),
    Native = native_connect(port(ts_ssl, Listen), []),
    {ok, S} = ts_ssl:accept(Listen),
    {ok, Peer} = await(Native),
    exchange(ts_ssl, S, Peer).

wrong_password(Config) ->
    Encrypted = [{certfile, file(Config, "server.pem")},
                 {keyfile, file(Config, "server_encrypted.key")}],
    {error, ekeyfile} = ts_ssl:listen(0, [{password, "not it"} | Encrypted]),
    {error, ekeyfile} = ts_ssl:listen(0, Encrypted).

%% The client's key is read at connect as the server's at listen.
wrong_password_on_connect(Config) ->
    Encrypted = [{certfile, file(Config, "client.pem")},
                 {keyfile, file(Config, "client_encrypted.key")}],
    {error, ekeyfile} = connect_to(Config, "server", [{password, "not it"} | Encrypted]),
    {error, ekeyfile} = connect_to(Config, "server", Encrypted).

cacertfile_read_by_connect(Config) ->
    {error, ecacertfile} =
        connect_to(Config, "server", [{verify, 1}, {cacertfile, file(Config, "missing.pem")}]).

%%% Accepting

accept_on_a_connected_socket(Config) ->
    {S, _Peer} = pair(Config, client, []),
    {error, enotlistener} = ts_ssl:accept(S),
    {error, enotlistener} = ts_ssl:transport_accept(S, 1000).

accept_without_certificate(_Config) ->
    {ok, Listen} = ts_ssl:listen(0, [{active, false}]),
    _ = native_connect(port(ts_ssl, Listen), []),
    {error, enoservercert} = ts_ssl:accept(Listen).

%% Not TLS on a TLS listen socket: the handshake fails; nothing hangs.
non_tls_client(Config) ->
    {ok, Listen} = ts_ssl:listen(0, server_options(Config)),
    {ok, Tcp} = gen_tcp:connect({127, 0, 0, 1}, port(ts_ssl, Listen), [binary]),
    ok = gen_tcp:send(Tcp, <<"GET / HTTP/1.0\r\n\r\n">>),
    {ok, S} = ts_ssl:transport_accept(Listen),
    {error, esslaccept} = ts_ssl:ssl_accept(S).

%% A client that refuses our certificate ends the handshake with a fatal alert.
peer_alert_during_accept(Config) ->
    Distrustful = [{verify, verify_peer}, {cacertfile, file(Config, "other_ca.pem")}],
    {{error, esslerrssl}, _} = accept_from(Config, [], Distrustful).

%% The manual's warning: no traffic on a transport_accept'ed socket before ssl_accept.
traffic_before_ssl_accept(Config) ->
    {ok, Listen} = ts_ssl:listen(0, server_options(Config)),
    _ = native_connect(port(ts_ssl, Listen), []),
    {ok, S} = ts_ssl:transport_accept(Listen),
    {error, ebadstate} = ts_ssl:send(S, <<"too early">>),
    {error, ebadstate} = ts_ssl:recv(S, 0, 1000),
    ok = ts_ssl:ssl_accept(S).

%%% Connecting

%% Only listen/2 refuses an empty list of options.
connect_empty_options(Config) ->
    {S, Peer} = pair(Config, client, []),
    ok = ts_ssl:send(S, "x"),
    {ok, <<"x">>} = ssl:recv(Peer, 1, ?WAIT).

%%% Data

recv_in_active_mode(Config) ->
    {S, _Peer} = pair(Config, client, []),
    {error, {badcall, _}} = ts_ssl:recv(S, 0, 1000).

%% More than the length field holds is refused rather than wrapped.
packet_too_large(Config) ->
    {S, Peer} = pair(Config, client, [{packet, 1}, {active, false}], [{packet, 1}]),
    {error, {badarg, {packet_to_large, 256, 255}}} = ts_ssl:send(S, binary:copy(<<"x">>, 256)),
    ok = ts_ssl:send(S, binary:copy(<<"x">>, 255)),
    {ok, <<_:255/binary>>} = ssl:recv(Peer, 0, ?WAIT).

%% Only the owner may give a socket away; the refusal changes nothing.
controlling_process_only_by_owner(Config) ->
    {S, Peer} = pair(Config, server, [binary, {packet, 2}], [{packet, 2}]),
    Stranger = async(fun() -> ts_ssl:controlling_process(S, self()) end),
    {error, {badcall, _}} = await(Stranger),
    ok = ssl:send(Peer, <<"still mine">>),
    <<"still mine">> = next_message(S).

%% A process that is not the owner gives the socket to a third one: refused, and nothing
%% changes, though ts_ssl:controlling_process/2 holds delivery with setopts while it asks. The
%% owner keeps the socket, and its {active, once}.
controlling_process_to_a_third_by_non_owner(Config) ->
    {S, Peer} = pair(Config, server, [binary, {packet, 2}, {active, once}], [{packet, 2}]),
    Third = relay(),
    Stranger = async(fun() -> ts_ssl:controlling_process(S, Third) end),
    {error, {badcall, _}} = await(Stranger),
    {ok, [{active, once}]} = ts_ssl:getopts(S, [active]),
    ok = ssl:send(Peer, <<"one">>),
    ok = ssl:send(Peer, <<"two">>),
    <<"one">> = next_message(S),
    {ok, [{active, false}]} = ts_ssl:getopts(S, [active]),
    nothing = no_message(S),
    {ok, <<"two">>} = ts_ssl:recv(S, 0, ?WAIT).

%% Messages that came before the change go on to the new owner, in order, before later ones.
controlling_process_passes_queued_messages(Config) ->
    {S, Peer} = pair(Config, server, [binary, {packet, 2}], [{packet, 2}]),
    Sent = [<<"one">>, <<"two">>, <<"three">>],
    [ok = ssl:send(Peer, M) || M <- Sent],
    wait_until(fun() -> queued(S) =:= length(Sent) end),
    Relay = relay(),
    ok = ts_ssl:controlling_process(S, Relay),
    ok = ssl:send(Peer, <<"four">>),
    [{relayed, {ssl, S, M}} = receive_relayed() || M <- Sent ++ [<<"four">>]],
    nothing = no_message(S).

%% The same for the peer's close: {ssl_closed, S} already in the old owner's mailbox goes on,
%% after the data that came before it.
controlling_process_passes_queued_close(Config) ->
    {S, Peer} = pair(Config, server, [binary, {packet, 2}], [{packet, 2}]),
    ok = ssl:send(Peer, <<"last words">>),
    ok = ssl:close(Peer),
    wait_until(fun() -> queued_close(S) end),
    Relay = relay(),
    ok = ts_ssl:controlling_process(S, Relay),
    {relayed, {ssl, S, <<"last words">>}} = receive_relayed(),
    {relayed, {ssl_closed, S}} = receive_relayed(),
    false = queued_close(S),
    nothing = no_message(S).

queued_close(S) ->
    {messages, Messages} = process_info(self(), messages),
    lists:member({ssl_closed, S}, Messages).

%% An {active, once} socket changes owner: the message still owed goes to the new owner; one
%% already in the old owner's mailbox is passed on, and the socket stays passive until asked
%% again (setopts/2 works from any process, the owner gets the message).
controlling_process_of_active_once(Config) ->
    {Owed, Peer1} = pair(Config, server, [binary, {packet, 2}, {active, once}], [{packet, 2}]),
    ok = ts_ssl:controlling_process(Owed, relay()),
    {ok, [{active, once}]} = ts_ssl:getopts(Owed, [active]),
    ok = ssl:send(Peer1, <<"owed">>),
    {relayed, {ssl, Owed, <<"owed">>}} = receive_relayed(),
    {ok, [{active, false}]} = ts_ssl:getopts(Owed, [active]),
    {Sent, Peer2} = pair(Config, server, [binary, {packet, 2}, {active, once}], [{packet, 2}]),
    ok = ssl:send(Peer2, <<"sent">>),
    ok = ssl:send(Peer2, <<"held">>),
    wait_until(fun() -> queued(Sent) =:= 1 end),
    ok = ts_ssl:controlling_process(Sent, relay()),
    {relayed, {ssl, Sent, <<"sent">>}} = receive_relayed(),
    {ok, [{active, false}]} = ts_ssl:getopts(Sent, [active]),
    nothing = no_message(Sent),
    ok = ts_ssl:setopts(Sent, [{active, once}]),
    {relayed, {ssl, Sent, <<"held">>}} = receive_relayed().

listen_socket_closes_with_its_owner(Config) ->
    Owner = async(fun() ->
                          {ok, L} = ts_ssl:listen(0, server_options(Config)),
                          {L, port(ts_ssl, L)}
                  end),
    {Listen, Port} = await(Owner),
    Monitor = erlang:monitor(process, ts_ssl:pid(Listen)),
    receive {'DOWN', Monitor, process, _, _} -> ok after ?WAIT -> ct:fail(socket_lives) end,
    {error, econnrefused} = gen_tcp:connect({127, 0, 0, 1}, Port, []).

%% pid/1: a process on the bridge node, for watching the socket's end.
socket_pid_stands_for_the_socket(Config) ->
    {S, _Peer} = pair(Config, client, []),
    Pid = ts_ssl:pid(S),
    true = is_pid(Pid),
    Bridge = list_to_atom(os:getenv("TS_SSL_BRIDGE")),
    Bridge = node(Pid),
    Monitor = erlang:monitor(process, Pid),
    ok = ts_ssl:close(S),
    receive {'DOWN', Monitor, process, Pid, _} -> ok after ?WAIT -> ct:fail(socket_lives) end.

%% A socket that dies abnormally sends its owner the exit signal, and the peer sees the end.
socket_killed_signals_its_owner(Config) ->
    {Listen, Port} = native_listen(server_options(Config)),
    Native = native_accept(Listen),
    Parent = self(),
    Owner = spawn_link(fun() ->
                               process_flag(trap_exit, true),
                               {ok, S} = ts_ssl:connect("127.0.0.1", Port, []),
                               Parent ! {socket, S},
                               receive {'EXIT', Pid, Why} -> Parent ! {owner_got, Pid, Why} end
                       end),
    S = receive {socket, Given} -> Given after ?WAIT -> ct:fail(no_socket) end,
    {ok, Peer} = await(Native),
    Pid = ts_ssl:pid(S),
    exit(Pid, kill),
    receive {owner_got, Pid, killed} -> ok after ?WAIT -> ct:fail({no_exit_signal, Owner}) end,
    {error, closed} = ssl:recv(Peer, 0, ?WAIT),
    {error, closed} = ts_ssl:send(S, <<"x">>).

%% After controlling_process/2 the socket's process is linked to the new owner ("that process
%% links to the calling client process", and the controlling process is the owner): when it dies,
%% the new owner gets the exit signal, the old one does not.
exit_signal_follows_the_owner(Config) ->
    process_flag(trap_exit, true),
    {S, Peer} = pair(Config, client, []),
    Pid = ts_ssl:pid(S),
    Parent = self(),
    NewOwner = spawn_link(fun() ->
                                  process_flag(trap_exit, true),
                                  Parent ! {self(), trapping},
                                  receive {'EXIT', Pid, Why} -> Parent ! {new_owner_got, Why} end
                          end),
    receive {NewOwner, trapping} -> ok end,
    ok = ts_ssl:controlling_process(S, NewOwner),
    exit(Pid, kill),
    receive {new_owner_got, Why} -> killed = Why after ?WAIT -> ct:fail(no_exit_signal) end,
    %% The socket was gone when the bridge answered this: any signal it sent here came first.
    {error, closed} = ts_ssl:getopts(S, [active]),
    receive {'EXIT', Pid, _} = Old -> ct:fail({old_owner_got, Old}) after 0 -> ok end,
    {error, closed} = ssl:recv(Peer, 0, ?WAIT).

%% The owner's whole node goes down (halted, no orderly exit): its link to the socket breaks as
%% an exit of the owner, which frees the socket (manual: "or else the process owning the socket
%% has to terminate"). The TLS peer sees the close, and pid/1's process ends.
owner_node_down_closes_socket(Config) ->
    {Listen, Port} = native_listen(server_options(Config)),
    Native = native_accept(Listen),
    Node = start_node(?FUNCTION_NAME),
    Parent = self(),
    _ = spawn(Node, fun() ->
                            Parent ! {socket, ts_ssl:connect("127.0.0.1", Port, [])},
                            receive after infinity -> ok end
                    end),
    S = receive {socket, {ok, Given}} -> Given after ?WAIT -> ct:fail(no_socket) end,
    {ok, Peer} = await(Native),
    Pid = ts_ssl:pid(S),
    Monitor = erlang:monitor(process, Pid),
    true = monitor_node(Node, true),
    ok = erpc:cast(Node, erlang, halt, []),
    receive {nodedown, Node} -> ok after ?WAIT -> ct:fail(node_lives) end,
    receive {'DOWN', Monitor, process, Pid, _} -> ok after ?WAIT -> ct:fail(socket_lives) end,
    {error, closed} = ssl:recv(Peer, 0, ?WAIT).

%% Another node of the cluster, with this node's cookie and code, to own sockets: started with
%% peer:start/1, unlinked, so that its halt ends nothing here.
start_node(Name) ->
    {ok, _Peer, Node} =
        peer:start(#{name => peer:random_name(Name), args => peer_args()}),
    Node.

%%% The openssl command line as peer

%% openssl s_server -rev sends each line back reversed.
openssl_s_server_peer(Config) ->
    {Server, Port} = ts_ssl_peers:openssl_server(["-cert", file(Config, "server.pem"),
                                                  "-key", file(Config, "server.key")]),
    {ok, S} = ts_ssl:connect("127.0.0.1", Port, [{active, false} | verify_1(Config)]),
    ok = ts_ssl:send(S, "hello openssl\n"),
    "lssnepo olleh\n" = line(S, []),
    ok = ts_ssl:close(S),
    0 = ts_ssl_peers:openssl_exit(Server).

%% openssl s_client verifies our chain and presents its own certificate.
openssl_s_client_peer(Config) ->
    {ok, Listen} = ts_ssl:listen(0, [{active, false}, {verify, 2} | ca(Config)] ++
                                     server_options(Config)),
    Client = ts_ssl_peers:openssl_client(port(ts_ssl, Listen),
                                         ["-CAfile", file(Config, "ca.pem"), "-verify_return_error",
                                          "-cert", file(Config, "client.pem"),
                                          "-key", file(Config, "client.key")]),
    {ok, S} = ts_ssl:accept(Listen),
    {ok, Der} = ts_ssl:peercert(S),
    Der = ts_ssl_certs:der(certs(Config), "client.pem"),
    ok = ts_ssl_peers:openssl_write(Client, "from openssl\n"),
    "from openssl\n" = line(S, []),
    ok = ts_ssl:send(S, "from ts_ssl\n"),
    {ok, _} = ts_ssl_peers:openssl_read(Client, <<"from ts_ssl">>),
    ok = ts_ssl:close(S),
    _ = ts_ssl_peers:openssl_exit(Client),
    ok.

%% {cachetimeout, Seconds}: how long the listener's sessions may be resumed, which is the
%% lifetime its session tickets announce (OpenSSL's 2 hours without the option).
cachetimeout_is_the_session_lifetime(Config) ->
    {7200, 7200} = session_lifetime(Config, []),
    {77, 77} = session_lifetime(Config, [{cachetimeout, 77}]),
    {error, eoptions} = ts_ssl:listen(0, [{cachetimeout, -1} | server_options(Config)]).

%% getopts' cachetimeout, and the ticket lifetime hint openssl s_client saved.
session_lifetime(Config, Options) ->
    {ok, Listen} = ts_ssl:listen(0, [{active, false} | Options] ++ server_options(Config)),
    {ok, [{cachetimeout, Given}]} = ts_ssl:getopts(Listen, [cachetimeout]),
    Session = filename:join(?config(priv_dir, Config),
                            "session-" ++ integer_to_list(erlang:unique_integer([positive]))),
    try
        Client = ts_ssl_peers:openssl_client(port(ts_ssl, Listen), ["-sess_out", Session]),
        {ok, S} = ts_ssl:accept(Listen),
        ok = ts_ssl:send(S, "after the tickets\n"),
        {ok, _} = ts_ssl_peers:openssl_read(Client, <<"after the tickets">>),
        ok = ts_ssl:close(S),
        _ = ts_ssl_peers:openssl_exit(Client),
        Text = os:cmd("openssl sess_id -noout -text -in " ++ Session),
        {match, [Hint]} = re:run(Text, "lifetime hint: (\\d+)", [{capture, all_but_first, list}]),
        {Given, list_to_integer(Hint)}
    after
        _ = file:delete(Session),
        ts_ssl:close(Listen)
    end.

%% A node started without -sname reaches the bridge all the same.
shell_without_sname(_Config) ->
    {ok, Peer, nonode@nohost} =
        peer:start_link(#{connection => standard_io,
                          args => ["-setcookie", atom_to_list(erlang:get_cookie()),
                                   "-pa", filename:dirname(code:which(ts_ssl))]}),
    try
        {ok, {"3.9", _, _}} = peer:call(Peer, ts_ssl, version, [])
    after
        peer:stop(Peer)
    end,
    ok.

%%% Helpers

%% A line from a passive list-mode socket.
line(S, Acc) ->
    {ok, Data} = ts_ssl:recv(S, 0, ?WAIT),
    Got = Acc ++ Data,
    case lists:last(Got) of
        $\n -> Got;
        _ -> line(S, Got)
    end.
