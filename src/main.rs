fn main() -> std::process::ExitCode {
    kiro_onboard::run().into()
}
