fn main() {
    std::process::exit(kiro_onboard::run());
}
