// The TLS and token flags shared by the `shoal` subcommands.
#include "src/cli/commands.h"

namespace shoal::cli {

void AddSecurityOptions(CLI::App* sub, TlsFiles* tls, std::string* auth_token_file,
                        bool* no_reflection) {
  sub->add_option("--ssl-certfile", tls->certfile,
                  "PEM certificate (chain) to serve TLS with (needs --ssl-keyfile)");
  sub->add_option("--ssl-keyfile", tls->keyfile, "PEM private key of --ssl-certfile");
  sub->add_option("--ssl-cafile", tls->cafile,
                  "PEM CA: clients must present a certificate it signed (mTLS); also the roots "
                  "this process verifies the servers it calls with");
  sub->add_option("--auth-token-file", *auth_token_file,
                  "File whose first line is the token every data and membership call must carry "
                  "as 'authorization: Bearer <token>' (default: env SHOAL_AUTH_TOKEN; none: "
                  "no token)");
  sub->add_flag("--no-reflection", *no_reflection,
                "Do not serve gRPC server reflection (which lists the services and messages)");
}

void AddCallerOptions(CLI::App* sub, TlsFiles* tls, std::string* auth_token_file) {
  sub->add_option("--ssl-cafile", tls->cafile,
                  "PEM CA to verify the server with (TLS; default roots: the system's)");
  sub->add_option("--ssl-certfile", tls->certfile,
                  "PEM client certificate for a server that requires one (mTLS)");
  sub->add_option("--ssl-keyfile", tls->keyfile, "PEM private key of --ssl-certfile");
  sub->add_option("--auth-token-file", *auth_token_file,
                  "File whose first line is the server's token (default: env SHOAL_AUTH_TOKEN)");
}

}  // namespace shoal::cli
