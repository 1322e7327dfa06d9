// The HTTP application lands here.
