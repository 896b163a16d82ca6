%% Packet types and {header, N}: gen_tcp's framing, over TLS. The sending end has the same
%% packet type unless the scenario says otherwise.
-module(sc_packet).

-include("conf.hrl").

-export([packet_1/1, packet_2/1, packet_4/1, packet_1_too_large/1, packet_2_too_large/1,
         empty_packet/1, packets_keep_their_bounds_active/1, packet_line/1,
         packet_asn1/1, packet_cdr/1, packet_sunrm/1, packet_fcgi/1, packet_tpkt/1,
         packet_http/1, packet_http_bin/1, packet_httph/1, packet_httph_bin/1,
         http_head_then_raw_body/1,
         header_in_binary_mode/1, header_in_list_mode/1, recv_length_with_packet/1,
         packet_size_passive/1, packet_size_active/1, packet_3/1,
         packet_set_while_recv_waits/1]).

%% Each packet arrives whole, both ways, at the limits of its length field.
packet_1(C) -> length_prefixed(C, 1, [0, 1, 254, 255]).
packet_2(C) -> length_prefixed(C, 2, [0, 1, 255, 256, 65535]).
packet_4(C) -> length_prefixed(C, 4, [0, 1, 65535, 65536, 300000]).

length_prefixed(#{mod := M} = C, N, Sizes) ->
    {Client, Server} = conf:pair(C, [binary, {packet, N}, {active, false}]),
    [begin
         Data = binary:copy(<<"x">>, Size),
         ok = M:send(Client, Data),
         ?note({Size, there}, M:recv(Server, 0) =:= {ok, Data}),
         ok = M:send(Server, Data),
         ?note({Size, back}, M:recv(Client, 0) =:= {ok, Data})
     end || Size <- Sizes],
    ok.

%% More than the length field holds is refused (ssl 3.9 and gen_tcp wrapped it: a broken stream).
packet_1_too_large(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {packet, 1}, {active, false}]),
    ?note(too_large, M:send(Client, binary:copy(<<"x">>, 256))),
    ?note(fits, M:send(Client, binary:copy(<<"y">>, 255))),
    ?note(recv, M:recv(Server, 0) =:= {ok, binary:copy(<<"y">>, 255)}).

packet_2_too_large(#{mod := M} = C) ->
    {Client, _Server} = conf:pair(C, [binary, {packet, 2}, {active, false}]),
    ?note(too_large, M:send(Client, binary:copy(<<"x">>, 65536))).

empty_packet(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {packet, 2}, {active, false}]),
    ?note(send_empty, M:send(Client, <<>>)),
    ok = M:send(Client, "after"),
    ?note(empty, M:recv(Server, 0)),
    ?note(after_empty, M:recv(Server, 0)).

packets_keep_their_bounds_active(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [{packet, 2}]),
    ok = M:send(Client, "ab"),
    ok = M:send(Client, "cd"),
    ?note(first, conf:next(Server)),
    ?note(second, conf:next(Server)).

%% A raw sender, so that the stream is written as it stands, in two pieces cut mid-packet.
framed(#{mod := M} = C, Options, Stream, Cut, Reads) ->
    {Client, Server} = conf:pair(C, [binary, {active, false}], [{active, false} | Options]),
    <<First:Cut/binary, Rest/binary>> = Stream,
    ok = M:send(Client, First),
    ok = M:send(Client, Rest),
    [?note({packet, I}, M:recv(Server, 0, ?WAIT)) || I <- lists:seq(1, Reads)],
    ok.

packet_line(C) ->
    framed(C, [{packet, line}], <<"first line\nsecond\n\nlast">>, 13, 3).

packet_asn1(C) ->
    framed(C, [binary, {packet, asn1}],
           <<16#30, 3, 1, 2, 3, 16#04, 16#81, 2, "ab", 16#1f, 16#81, 1, 1, "z">>, 7, 3).

packet_cdr(C) ->
    framed(C, [binary, {packet, cdr}],
           <<"GIOP", 1, 0, 0, 0, 0, 0, 0, 3, "abc", "GIOP", 1, 2, 1, 0, 2, 0, 0, 0, "de">>, 10, 2).

packet_sunrm(C) ->
    framed(C, [binary, {packet, sunrm}], <<16#80000003:32, "abc", 2:32, "de">>, 5, 2).

packet_fcgi(C) ->
    framed(C, [binary, {packet, fcgi}],
           <<1, 1, 0, 1, 0, 3, 1, 0, "abc", 0, 1, 5, 0, 1, 0, 0, 0, 0>>, 9, 2).

packet_tpkt(C) ->
    framed(C, [binary, {packet, tpkt}], <<3, 0, 0, 7, "abc", 3, 0, 0, 5, "d">>, 3, 2).

-define(REQUEST, <<"GET /index.html HTTP/1.1\r\nHost: example.com\r\nX-Custom: yes\r\n\r\n">>).

packet_http(C) ->
    framed(C, [{packet, http}], ?REQUEST, 20, 4).

packet_http_bin(C) ->
    framed(C, [binary, {packet, http_bin}], ?REQUEST, 30, 4).

packet_httph(C) ->
    framed(C, [{packet, httph}], <<"Host: example.com\r\nContent-Length: 3\r\n\r\n">>, 12, 3).

packet_httph_bin(C) ->
    framed(C, [binary, {packet, httph_bin}], <<"Host: example.com\r\nAccept: */*\r\n\r\n">>, 25, 3).

%% The usual HTTP server: the head with {packet, http_bin}, then the body raw.
http_head_then_raw_body(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {active, false}], [binary, {active, false},
                                                                {packet, http_bin}]),
    ok = M:send(Client, <<"POST /x HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody">>),
    [?note({head, I}, M:recv(Server, 0)) || I <- [1, 2, 3]],
    ?note(raw, M:setopts(Server, [{packet, raw}])),
    ?note(body, M:recv(Server, 4)).

%% {header, N} in binary mode: the first N bytes as a list, the rest a binary.
header_in_binary_mode(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {packet, 2}, {active, false}],
                                 [binary, {header, 2}, {packet, 2}, {active, false}]),
    ok = M:send(Client, "hello"),
    ?note(long, M:recv(Server, 0)),
    ok = M:send(Client, "a"),
    ?note(short, M:recv(Server, 0)),
    ok = M:send(Client, "xyz"),
    ok = M:setopts(Server, [{active, once}]),
    ?note(active, conf:next(Server)).

header_in_list_mode(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [{packet, 2}, {active, false}],
                                 [{header, 2}, {packet, 2}, {active, false}]),
    ok = M:send(Client, "hello"),
    ?note(recv, M:recv(Server, 0)).

%% A positive length is for raw mode only; the socket is fine afterwards.
recv_length_with_packet(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [{packet, 2}, {active, false}]),
    ?note(recv_length, M:recv(Server, 5, 100)),
    ok = M:send(Client, "still fine"),
    ?note(recv, M:recv(Server, 0)).

%% A packet over packet_size: emsgsize, and the socket is closed.
packet_size_passive(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {packet, 2}, {active, false}],
                                 [binary, {packet, 2}, {packet_size, 10}, {active, false}]),
    ok = M:send(Client, "small"),
    ok = M:send(Client, "far too large"),
    ?note(small, M:recv(Server, 0)),
    ?note(large, M:recv(Server, 0)),
    ?note(then, M:recv(Server, 0, ?WAIT)).

packet_size_active(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {packet, 2}, {active, false}],
                                 [binary, {packet, 2}, {packet_size, 10}]),
    ok = M:send(Client, "small"),
    ok = M:send(Client, "far too large"),
    ?note(small, conf:next(Server)),
    Large = conf:next(Server),
    ?note(large_then, {Large, conf:next(Server, 1000)}).

%% {packet, 3} is not a packet type.
packet_3(#{mod := M} = C) ->
    {Client, _Server} = conf:pair(C, []),
    ?note(setopts, M:setopts(Client, [{packet, 3}])),
    ?note(getopts, M:getopts(Client, [packet])).

%% setopts to a packet type while another process waits in recv(S, N > 0): the connection stays
%% and no byte is lost. gen_tcp (noted beside) lets the waiting recv time out, a packet being no
%% N bytes, and gives the packet to the next recv(S, 0); OTP's ssl gives it to the waiting recv.
%% (gen_tcp is not followed where N is smaller than the bytes that come: OTP 25's inet driver
%% then hands the waiting recv part of the packet and the rest is lost.)
packet_set_while_recv_waits(#{mod := M} = C) ->
    {Client, Server} = conf:pair(C, [binary, {active, false}]),
    Waiting = conf:async(fun() -> M:recv(Server, 10, 500) end),
    conf:pause(),
    ?note(setopts, M:setopts(Server, [{packet, 2}])),
    ok = M:send(Client, <<0, 3, "abc">>),
    ?note(recv_across_setopts, {conf:await(Waiting), M:recv(Server, 0, 1000)}),
    ok = M:send(Client, <<0, 2, "de">>),
    ?note(recv_next, M:recv(Server, 0, ?WAIT)),
    {TcpClient, TcpServer} = conf:tcp_pair(),
    TcpWaiting = conf:async(fun() -> gen_tcp:recv(TcpServer, 10, 500) end),
    conf:pause(),
    ok = inet:setopts(TcpServer, [{packet, 2}]),
    ok = gen_tcp:send(TcpClient, <<0, 3, "abc">>),
    ?note(gen_tcp_recv_across_setopts, {conf:await(TcpWaiting), gen_tcp:recv(TcpServer, 0, 1000)}).
