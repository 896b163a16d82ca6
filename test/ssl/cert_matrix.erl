%% The certificate matrix's Erlang side (test/ssl/cert-matrix.test.ts): one cell run with a
%% module under test, ts_ssl or OTP's own ssl through ts_ssl_native (erlang_stub/test), against
%% native ssl as the peer.
-module(cert_matrix).

-export([compare/3, cell/4]).

-define(WAIT, 10000).

%% The cell of Files in Role and Version, run with OTP's ssl first, then with ts_ssl:
%% <<"Native|TsSsl">>, each outcome summarised.
compare(Role, Version, Files) ->
    Native = cell(ts_ssl_native, Role, Version, Files),
    TsSsl = cell(ts_ssl, Role, Version, Files),
    iolist_to_binary([summary(Native), "|", summary(TsSsl)]).

summary(ok) -> "ok";
summary({peer, Reason}) -> ["peer: ", reason(Reason)];
summary({_Module, Reason}) -> reason(Reason);
summary(Other) -> string:slice(io_lib:format("~0p", [Other]), 0, 120).

reason({tls_alert, {Alert, _Text}}) -> [atom_to_list(Alert), " alert"];
reason({options, Option}) when is_atom(element(1, Option)) -> ["options ", atom_to_list(element(1, Option))];
reason({options, Option}) -> string:slice(io_lib:format("options ~0p", [Option]), 0, 60);
reason(Reason) when is_atom(Reason) -> atom_to_list(Reason);
reason(Reason) -> string:slice(io_lib:format("~0p", [Reason]), 0, 120).

%% One cell: M (`ts_ssl' or `ts_ssl_native') in Role, native ssl (OTP's API) on the other end limited
%% to Version. Files: #{ca := Path, server := Options, client := Options}, the options being
%% certfile, keyfile and password as the ssl 3.9 manual writes them. Returns `ok' when both
%% handshakes succeed and a byte goes each way; else {Who, Reason}: `M' when the module under
%% test refused (Reason as it said it), `peer' when only native ssl did.
cell(M, Role, Version, Files) ->
    {Pid, Ref} = spawn_monitor(fun() -> exit({cell, run(M, Role, Version, Files)}) end),
    receive
        {'DOWN', Ref, process, Pid, {cell, Result}} -> Result;
        {'DOWN', Ref, process, Pid, Crash} -> {crashed, Crash}
    after 3 * ?WAIT ->
        exit(Pid, kill),
        hang
    end.

%% Verifying with depth 2 lets every chain of the matrix through (leaf, two intermediates, root).
verifying(Ca) ->
    [{cacertfile, Ca}, {depth, 2}].

run(M, server, Version, #{ca := Ca, server := Server}) ->
    serve(M, [binary, {active, false}, {ip, {127, 0, 0, 1}} | Server],
          [{verify, verify_peer}, {server_name_indication, disable}, {versions, [Version]}
           | verifying(Ca)]);
run(M, client_auth, Version, #{ca := Ca, server := Server, client := Client}) ->
    serve(M, [binary, {active, false}, {ip, {127, 0, 0, 1}}, {verify, 2} | Server ++ verifying(Ca)],
          [{versions, [Version]} | peer_options(Client)]);
run(M, client, Version, #{ca := Ca, server := Server}) ->
    {Listen, Port} = ts_ssl_peers:native_listen([{versions, [Version]} | peer_options(Server)]),
    Peer = ts_ssl_peers:native_accept(Listen),
    Result = case M:connect({127, 0, 0, 1}, Port, [binary, {active, false}, {verify, 2},
                                                  {server_name_indication, disable}
                                                  | verifying(Ca)], ?WAIT) of
                 {ok, S} -> exchange(M, S, ts_ssl_peers:await(Peer));
                 {error, Reason} -> {M, Reason}
             end,
    ssl:close(Listen),
    Result.

%% M listens with Options; native ssl connects with PeerOptions.
serve(M, Options, PeerOptions) ->
    case M:listen(0, Options) of
        {ok, Listen} ->
            {ok, {_, Port}} = M:sockname(Listen),
            Peer = ts_ssl_peers:native_connect(Port, PeerOptions),
            Result = case M:transport_accept(Listen, ?WAIT) of
                         {ok, S} ->
                             case M:ssl_accept(S, ?WAIT) of
                                 {error, Reason} -> {M, Reason};
                                 _ -> exchange(M, S, ts_ssl_peers:await(Peer))
                             end;
                         {error, Reason} -> {M, Reason}
                     end,
            M:close(Listen),
            Result;
        {error, Reason} ->
            {M, Reason}
    end.

%% The peer's options: 3.9's names are OTP's for certfile, keyfile and password.
peer_options(Options) ->
    [{verify, verify_none} | Options].

%% A byte each way. A refusal that comes after the handshake (a TLS 1.3 client learns after its
%% own handshake that the server refused its certificate) shows here.
exchange(M, S, {ok, Peer}) ->
    R = case {M:send(S, <<"m">>), ssl:recv(Peer, 1, ?WAIT)} of
            {ok, {ok, <<"m">>}} ->
                case {ssl:send(Peer, <<"p">>), M:recv(S, 1, ?WAIT)} of
                    {ok, {ok, <<"p">>}} -> ok;
                    {_, {error, Reason}} -> {M, Reason};
                    {Error, _} -> {peer, Error}
                end;
            {{error, Reason}, _} -> {M, Reason};
            {ok, {error, Reason}} -> {peer, Reason}
        end,
    ssl:close(Peer),
    M:close(S),
    R;
exchange(M, S, {error, Reason}) ->
    M:close(S),
    {peer, Reason}.
