"""Sign-in: sendOtp, verifyOtp and me."""
