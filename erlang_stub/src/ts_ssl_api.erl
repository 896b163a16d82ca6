%% @doc The ssl 3.9 API (the EXPORTS of the manual's ssl(3) page) as a behaviour: what a module
%% must export, with the manual's arguments and return values, to stand for `ssl' in code written
%% for that manual. `ts_ssl' implements it over a bridge; the test adapter `ts_ssl_native'
%% implements it over this OTP's own `ssl', so that one scenario runs on both and the compiler
%% (and Dialyzer, for `ts_ssl') hold each to the same functions and shapes.
%%
%% A socket is the implementing module's own (`ts_ssl:sslsocket()' or OTP's); reasons are the
%% manual's `{error, Reason}' forms, which an implementation over modern OTP gives in OTP's words.
-module(ts_ssl_api).

-export_type([socket/0]).

-type socket() :: ts_ssl:sslsocket() | ssl:sslsocket().
-type reason() :: ts_ssl:reason().

-callback accept(ListenSocket :: socket()) -> {ok, socket()} | {error, reason()}.
-callback accept(ListenSocket :: socket(), Timeout :: timeout()) ->
    {ok, socket()} | {error, reason()}.
-callback ciphers() -> {ok, string()} | {error, reason()}.
-callback close(Socket :: socket()) -> ok | {error, reason()}.
-callback connect(Address :: ts_ssl:address(), Port :: integer(), Options :: ts_ssl:options()) ->
    {ok, socket()} | {error, reason()}.
-callback connect(Address :: ts_ssl:address(), Port :: integer(), Options :: ts_ssl:options(),
                  Timeout :: timeout()) ->
    {ok, socket()} | {error, reason()}.
-callback connection_info(Socket :: socket()) ->
    {ok, {ts_ssl:protocol(), Cipher :: string()}} | {error, reason()}.
-callback controlling_process(Socket :: socket(), NewOwner :: pid()) -> ok | {error, reason()}.
-callback format_error(ErrorCode :: term()) -> string().
-callback getopts(Socket :: socket(), OptionTags :: [atom()]) ->
    {ok, ts_ssl:options()} | {error, reason()}.
-callback listen(Port :: integer(), Options :: ts_ssl:options()) ->
    {ok, socket()} | {error, reason()}.
-callback peercert(Socket :: socket()) -> {ok, Cert :: binary()} | {error, reason()}.
-callback peercert(Socket :: socket(), Opts :: [pkix | ssl | subject]) ->
    {ok, term()} | {error, reason()}.
-callback peername(Socket :: socket()) ->
    {ok, {ts_ssl:ipaddress(), integer()}} | {error, reason()}.
-callback pid(Socket :: socket()) -> pid().
-callback recv(Socket :: socket(), Length :: non_neg_integer()) ->
    {ok, term()} | {error, reason()}.
-callback recv(Socket :: socket(), Length :: non_neg_integer(), Timeout :: timeout()) ->
    {ok, term()} | {error, reason()}.
-callback seed(Data :: iodata()) -> ok | {error, reason()}.
-callback send(Socket :: socket(), Data :: iodata()) -> ok | {error, reason()}.
-callback setopts(Socket :: socket(), Options :: ts_ssl:options()) -> ok | {error, reason()}.
-callback ssl_accept(Socket :: socket()) -> ok | {error, reason()}.
-callback ssl_accept(Socket :: socket(), Timeout :: timeout()) -> ok | {error, reason()}.
-callback sockname(Socket :: socket()) ->
    {ok, {ts_ssl:ipaddress(), integer()}} | {error, reason()}.
-callback transport_accept(ListenSocket :: socket()) -> {ok, socket()} | {error, reason()}.
-callback transport_accept(ListenSocket :: socket(), Timeout :: timeout()) ->
    {ok, socket()} | {error, reason()}.
-callback version() -> {ok, {SSLVsn :: string(), CompVsn :: string(), LibVsn :: string()}}.
