%% Option errors with OTP 25's API: files that cannot be read, verify_peer without CA
%% certificates, options it does not know.
-module(md_options).

-include("conf.hrl").

-export([cacertfile_missing/1, keyfile_missing/1,
         listen_verify_peer_without_cacerts/1, unknown_option/1, ciphers_as_list_of_names/1,
         listen_certfile_missing/1]).

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

ciphers_as_list_of_names(#{mod := M} = C) ->
    {Client, _Server} = conf:pair(C, [{versions, ['tlsv1.2']},
                                      {ciphers, ["ECDHE-ECDSA-AES256-GCM-SHA384"]}], []),
    {ok, [{selected_cipher_suite, Got}]} =
        M:connection_information(Client, [selected_cipher_suite]),
    ?note(the_one_asked, Got =:= ssl:str_to_suite("ECDHE-ECDSA-AES256-GCM-SHA384")).

listen_certfile_missing(#{mod := M} = C) ->
    Missing = conf:file(C, "no_such_cert.pem"),
    ?note(listen, M:listen(0, [{certfile, Missing}, {keyfile, conf:file(C, "server.key")}])).
