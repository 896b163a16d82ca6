%% Option errors with OTP 25's API: files that cannot be read, verify_peer without CA
%% certificates, options it does not know.
-module(md_options).

-include("conf.hrl").

-export([cacertfile_missing/1, keyfile_missing/1,
         listen_verify_peer_without_cacerts/1, unknown_option/1, ciphers_as_list_of_names/1,
         listen_certfile_missing/1, listen_keyfile_missing/1, listen_cacertfile_missing/1,
         listen_keyfile_garbage/1, listen_cacertfile_garbage/1,
         connect_option_errors/1, listen_option_errors/1,
         setopts_option_errors/1]).

cacertfile_missing(#{mod := M} = C) ->
    {ok, L} = M:listen(0, [{ip, conf:loopback()} | conf:server(C)]),
    Missing = conf:file(C, "no_such_ca.pem"),
    ?note(connect, M:connect("localhost", conf:port(M, L),
                             [{verify, verify_peer}, {cacertfile, Missing}], ?WAIT)).

keyfile_missing(#{mod := M} = C) ->
    {ok, L} = M:listen(0, [{ip, conf:loopback()} | conf:server(C)]),
    Missing = conf:file(C, "no_such_key.pem"),
    ?note(connect, M:connect("localhost", conf:port(M, L),
                             [{certfile, conf:file(C, "client.pem")}, {keyfile, Missing}], ?WAIT)).

listen_verify_peer_without_cacerts(#{mod := M} = C) ->
    ?note(listen, M:listen(0, [{verify, verify_peer} | conf:server(C)])).

unknown_option(#{mod := M}) ->
    ?note(connect, M:connect("localhost", 1, [{no_such_option, 1}], ?WAIT)).

%% What OTP's ssl refuses itself, and what it hands to gen_tcp, which refuses it: the answers
%% name the option, or the list gen_tcp was given (the caller's options for it, in its order).
connect_option_errors(#{mod := M}) ->
    Connect = fun(Options) -> M:connect("localhost", 1, Options, ?WAIT) end,
    ?note(not_a_pair, Connect([binary, no_such])),
    ?note(three_tuple, Connect([{a, 1, 2}])),
    ?note(unknown_among_others, Connect([{a, 1}, binary, {packet, 2}, {nodelay, true},
                                         {reuseaddr, true}, {b, 2}, {active, once}])),
    ?note(bad_gen_tcp_value, Connect([{nodelay, 3}])),
    ?note(not_for_connect, Connect([{backlog, 5}])),
    ?note(bad_ssl_value_first, Connect([{a, 1}, {depth, x}])),
    ?note(bad_emulated_value_first, Connect([{a, 1}, {mode, x}])),
    ?note(not_a_list, Connect(no_list)).

listen_option_errors(#{mod := M} = C) ->
    Listen = fun(Options) -> M:listen(0, Options ++ conf:server(C)) end,
    ?note(not_a_pair, Listen([binary, no_such])),
    ?note(unknown, Listen([{no_such_option, 1}])),
    ?note(bad_gen_tcp_value, Listen([{nodelay, 3}])),
    ?note(bad_emulated_value, Listen([{active, sometimes}])),
    ?note(bad_ssl_value, Listen([{depth, x}])).

setopts_option_errors(#{mod := M} = C) ->
    {Client, _Server} = conf:pair(C, []),
    Setopts = fun(Options) -> M:setopts(Client, Options) end,
    ?note(bare_atom, Setopts([no_such])),
    ?note(unknown, Setopts([{a, 1}, {b, 2}, {nodelay, true}, {mode, list}])),
    ?note(bad_gen_tcp_value, Setopts([{nodelay, 3}])),
    ?note(ssl_option, Setopts([{verify, verify_none}])),
    ?note(bad_emulated_value, Setopts([{mode, octets}])),
    ?note(not_a_list, Setopts(no_list)),
    ?note(still, M:getopts(Client, [mode, active, nodelay])).

ciphers_as_list_of_names(#{mod := M} = C) ->
    {Client, _Server} = conf:pair(C, [{versions, ['tlsv1.2']},
                                      {ciphers, ["ECDHE-ECDSA-AES256-GCM-SHA384"]}], []),
    {ok, [{selected_cipher_suite, Got}]} =
        M:connection_information(Client, [selected_cipher_suite]),
    ?note(the_one_asked, Got =:= ssl:str_to_suite("ECDHE-ECDSA-AES256-GCM-SHA384")).

%% A file that cannot be read, or a key that cannot be used, is found at each handshake: listen
%% succeeds, the handshake fails naming the file, and the client sees the connection close.
listen_certfile_missing(#{mod := M} = C) ->
    Missing = conf:file(C, "no_such_cert.pem"),
    listen_file_missing(C, [{certfile, Missing}, {keyfile, conf:file(C, "server.key")}]).

listen_keyfile_missing(C) ->
    listen_file_missing(C, [{certfile, conf:file(C, "server.pem")},
                            {keyfile, conf:file(C, "no_such_key.pem")}]).

listen_cacertfile_missing(C) ->
    listen_file_missing(C, [{cacertfile, conf:file(C, "no_such_ca.pem")} | conf:server(C)]).

listen_keyfile_garbage(C) ->
    listen_file_missing(C, [{certfile, conf:file(C, "server.pem")},
                            {keyfile, conf:file(C, "garbage.bin")}]).

%% A CA file with no certificate in it is left out: connections are served without it.
listen_cacertfile_garbage(#{mod := M} = C) ->
    {ok, L} = ?note(listen, M:listen(0, [{ip, conf:loopback()}, {cacertfile, conf:file(C, "garbage.bin")}
                                         | conf:server(C)])),
    Client = conf:connecting(ssl, "localhost", conf:port(M, L), [{verify, verify_none}]),
    {ok, T} = M:transport_accept(L, ?WAIT),
    ?note(handshake, element(1, M:handshake(T, ?WAIT))),
    ?note(client, element(1, conf:await(Client))).

listen_file_missing(#{mod := M} = C, Options) ->
    {ok, L} = ?note(listen, M:listen(0, [{ip, conf:loopback()} | Options])),
    Client = conf:connecting(ssl, "localhost", conf:port(M, L), [{verify, verify_none}]),
    {ok, T} = ?note(transport_accept, M:transport_accept(L, ?WAIT)),
    ?note(handshake, M:handshake(T, ?WAIT)),
    ?note(client, conf:await(Client)),
    ?note(again, M:handshake(T, ?WAIT)).
