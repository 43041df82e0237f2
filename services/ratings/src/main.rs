#[tokio::main]
async fn main() -> std::process::ExitCode {
    bookinfo_ratings::main(std::env::args()).await
}
