%% What a connection settled and what the library offers: ALPN, SNI, versions, cipher suites,
%% connection_information, getstat, versions/0, cipher_suites/2, format_error/1.
-module(md_session).

-include("conf.hrl").

-export([sni_in_connection_information/1, alpn_negotiated/1, alpn_not_asked/1, alpn_no_overlap/1, sni_seen_by_server/1,
         connection_information_1/1, connection_information_2/1, versions_tls12_only/1,
         versions_tls13_only/1, versions_no_overlap/1, ciphers_as_suite_maps/1,
         ciphers_as_openssl_string/1, ciphers_none_known/1, cipher_suites_offered/1,
         versions_0/1, getstat/1, getstat_counts_the_connection/1, format_error/1]).

alpn_negotiated(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [{alpn_advertised_protocols, [<<"h2">>, <<"http/1.1">>]}],
                                 [{alpn_preferred_protocols, [<<"http/1.1">>, <<"spdy/3">>]}]),
    ?note(client, M:negotiated_protocol(Client)),
    ?note(server, M:negotiated_protocol(Server)).

alpn_not_asked(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [], [{alpn_preferred_protocols, [<<"http/1.1">>]}]),
    ?note(client, M:negotiated_protocol(Client)),
    ?note(server, M:negotiated_protocol(Server)).

alpn_no_overlap(#{mod := M} = C) ->
    {ok, L} = M:listen(0, [{ip, conf:loopback()}, {alpn_preferred_protocols, [<<"h2">>]}
                           | conf:server(C)]),
    Accepting = conf:async(fun() ->
                                   {ok, T} = M:transport_accept(L, ?WAIT),
                                   M:handshake(T, ?WAIT)
                           end),
    ?note(connect, M:connect("localhost", conf:port(M, L),
                             [{alpn_advertised_protocols, [<<"spdy/3">>]}], ?WAIT)),
    ?note(handshake, conf:await(Accepting)).

%% Which end lists the SNI name among its items, without and with one.
sni_in_connection_information(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [], []),
    Listed = fun(S) -> {ok, Info} = M:connection_information(S),
                       lists:keyfind(sni_hostname, 1, Info) end,
    ?note(default, {Listed(Client), Listed(Server)}),
    {Client2, Server2} = conf:pair(C, [{server_name_indication, "sni.example"}], []),
    ?note(given, {Listed(Client2), Listed(Server2)}).

sni_seen_by_server(#{mod := M} = C) ->
    {_Client, Server} = conf:pair(C, [{server_name_indication, "sni.example"}], []),
    ?note(server, M:connection_information(Server, [sni_hostname])).

connection_information_1(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, []),
    {ok, Info} = M:connection_information(Client),
    ?note(protocol, proplists:get_value(protocol, Info)),
    ?note(has_suite, is_map(proplists:get_value(selected_cipher_suite, Info))),
    {ok, ServerInfo} = M:connection_information(Server),
    ?note(both_ends_agree, [lists:keyfind(K, 1, Info) =:= lists:keyfind(K, 1, ServerInfo)
                            || K <- [protocol, selected_cipher_suite]]).

connection_information_2(#{mod := M} = C) ->
    {Client, _Server} = conf:pair(C, [{versions, ['tlsv1.2']}], []),
    ?note(info, M:connection_information(Client, [protocol, selected_cipher_suite])).

versions_tls12_only(#{mod := M} = C) ->
    {Client, _Server} = conf:pair(C, [{versions, ['tlsv1.2']}], []),
    ?note(info, M:connection_information(Client, [protocol])).

versions_tls13_only(#{mod := M} = C) ->
    {_Client, Server} = conf:pair(C, [], [{versions, ['tlsv1.3']}]),
    ?note(info, M:connection_information(Server, [protocol])).

versions_no_overlap(#{mod := M} = C) ->
    {ok, L} = M:listen(0, [{ip, conf:loopback()}, {versions, ['tlsv1.3']} | conf:server(C)]),
    Accepting = conf:async(fun() ->
                                   {ok, T} = M:transport_accept(L, ?WAIT),
                                   M:handshake(T, ?WAIT)
                           end),
    ?note(connect, M:connect("localhost", conf:port(M, L), [{versions, ['tlsv1.2']}], ?WAIT)),
    ?note(handshake, conf:await(Accepting)).

ciphers_as_suite_maps(#{mod := M} = C) ->
    Suite = #{key_exchange => ecdhe_ecdsa, cipher => aes_256_gcm, mac => aead, prf => sha384},
    {Client, _Server} = conf:pair(C, [{versions, ['tlsv1.2']}, {ciphers, [Suite]}], []),
    {ok, [{selected_cipher_suite, Got}]} =
        M:connection_information(Client, [selected_cipher_suite]),
    ?note(the_one_asked, Got =:= Suite).

ciphers_as_openssl_string(#{mod := M} = C) ->
    {Client, _Server} = conf:pair(C, [{versions, ['tlsv1.2']},
                                      {ciphers, "ECDHE-ECDSA-AES128-GCM-SHA256"}], []),
    {ok, [{selected_cipher_suite, Got}]} =
        M:connection_information(Client, [selected_cipher_suite]),
    ?note(the_one_asked, Got =:= ssl:str_to_suite("ECDHE-ECDSA-AES128-GCM-SHA256")).

ciphers_none_known(#{mod := M}) ->
    ?note(connect, M:connect("localhost", 1, [{ciphers, "NO-SUCH-CIPHER"}], ?WAIT)).

%% The suites everyone can do are there, in OTP's form.
cipher_suites_offered(#{mod := M}) ->
    Tls13 = M:cipher_suites(default, 'tlsv1.3'),
    Tls12 = M:cipher_suites(default, 'tlsv1.2'),
    ?note(tls13_aes_gcm, [lists:member(#{key_exchange => any, cipher => C, mac => aead, prf => P},
                                       Tls13)
                          || {C, P} <- [{aes_128_gcm, sha256}, {aes_256_gcm, sha384}]]),
    ?note(tls12_ecdhe, lists:member(#{key_exchange => ecdhe_rsa, cipher => aes_128_gcm,
                                      mac => aead, prf => sha256}, Tls12)),
    ?note(all_maps, lists:all(fun is_map/1, Tls13 ++ Tls12)).

versions_0(#{mod := M}) ->
    Versions = M:versions(),
    ?note(supported, proplists:get_value(supported, Versions)),
    ?note(available_has_tls12, lists:member('tlsv1.2', proplists:get_value(available, Versions))).

%% Counters after a known exchange: their names, and the bytes received at least those sent
%% (what else is counted differs, see README.md).
getstat(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {active, false}]),
    ok = M:send(Client, <<"twelve bytes">>),
    {ok, <<"twelve bytes">>} = M:recv(Server, 12, ?WAIT),
    {ok, All} = M:getstat(Client),
    ?note(names, lists:sort(proplists:get_keys(All))),
    {ok, Two} = M:getstat(Server, [recv_oct, recv_cnt]),
    ?note(items, [Item || {Item, _} <- Two]),
    ?note(counted, proplists:get_value(recv_oct, Two) >= 12
                       andalso proplists:get_value(recv_cnt, Two) >= 1).

%% The octets are the TCP connection's, as inet counts them: the handshake and the TLS records
%% around the data included, the same bytes at both ends once all has arrived.
getstat_counts_the_connection(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {active, false}]),
    ok = M:send(Client, <<"twelve bytes">>),
    {ok, <<"twelve bytes">>} = M:recv(Server, 12, ?WAIT),
    ok = M:send(Server, <<"back">>),
    {ok, <<"back">>} = M:recv(Client, 4, ?WAIT),
    conf:pause(),
    {ok, [{send_oct, CSent}, {recv_oct, CReceived}]} = M:getstat(Client, [send_oct, recv_oct]),
    {ok, [{send_oct, SSent}, {recv_oct, SReceived}]} = M:getstat(Server, [send_oct, recv_oct]),
    ?note(client_to_server, CSent =:= SReceived),
    ?note(server_to_client, SSent =:= CReceived),
    ?note(handshake_counted, SSent > 500 andalso CSent > 100).

format_error(#{mod := M}) ->
    ?note(closed, M:format_error(closed)),
    ?note(timeout, M:format_error(timeout)),
    ?note(alert, M:format_error({tls_alert, {unknown_ca, "TLS client: Unknown CA\n"}})),
    ?note(options, M:format_error({options, {mode, foo}})),
    ?note(posix, M:format_error(econnrefused)).
