/// mimalloc: the daemon allocates and frees many small buffers per request
/// (JSON values, LDAP messages), where it costs about half of glibc malloc's time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    scim2ldap::cli::run()
}
