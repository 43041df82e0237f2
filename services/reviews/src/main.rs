#[tokio::main]
async fn main() -> std::process::ExitCode {
    bookinfo_reviews::main(std::env::args()).await
}
