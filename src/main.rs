fn main() -> std::process::ExitCode {
    scim2ldap::cli::run()
}
